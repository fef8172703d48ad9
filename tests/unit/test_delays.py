"""Delay tiers: parsing, rounding up (never early), refusals, names and headers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mqmigrate.kafka import delays
from mqmigrate.kafka.delays import DelayTiers
from mqmigrate.errors import ConfigError
from mqmigrate.sdk.worker import RetryableError, Worker


@pytest.mark.parametrize(
    "given, ms",
    [
        (1, 1000),
        (0.25, 250),
        ("30s", 30_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("250ms", 250),
        ("1.5s", 1500),
        (" 2 ", 2000),
        (timedelta(minutes=2), 120_000),
        (0, 0),
        (0.0004, 1),  # rounded up: a delay is never shortened
    ],
)
def test_to_ms(given, ms):
    assert delays.to_ms(given) == ms


@pytest.mark.parametrize(
    "bad",
    [
        -1,
        "-5s",
        "soon",
        "5 minutes",
        float("nan"),
        float("inf"),
        True,
        None,
        [1],
        timedelta(seconds=-1),
    ],
)
def test_to_ms_refuses_what_is_not_a_delay(bad):
    with pytest.raises(ConfigError):
        delays.to_ms(bad)


@pytest.mark.parametrize(
    "ms, text",
    [
        (1000, "1s"),
        (30_000, "30s"),
        (300_000, "5m"),
        (90_000, "90s"),
        (3_600_000, "1h"),
        (250, "250ms"),
        (1500, "1500ms"),
        (86_400_000, "1d"),
    ],
)
def test_label(ms, text):
    assert delays.label(ms) == text


def test_tiers_round_up_to_the_smallest_tier_at_least_as_long():
    tiers = DelayTiers(["1s", "30s", "5m"])
    assert [tiers.for_delay(d).label for d in (0, 0.5, 1, 1.001, 29, 30, 31, 300)] == [
        "1s",
        "1s",
        "1s",
        "30s",
        "30s",
        "30s",
        "5m",
        "5m",
    ]
    assert tiers.for_delay(30).delay_ms >= 30_000


def test_a_delay_longer_than_the_largest_tier_is_refused():
    with pytest.raises(ConfigError, match="longer than the largest retry tier"):
        DelayTiers(["1s", "30s"]).for_delay("31s")


def test_schedule_follows_the_attempts_and_repeats_the_last_tier():
    tiers = DelayTiers([1, 30, 300])
    assert [tiers.for_attempt(a).label for a in (1, 2, 3, 4, 9)] == ["1s", "30s", "5m", "5m", "5m"]


@pytest.mark.parametrize(
    "bad", [[], ["30s", "1s"], ["1s", "1s"], ["10ms"], ["-1s"], ["1s"] * 9, ["x"]]
)
def test_bad_tier_lists_are_refused(bad):
    with pytest.raises(ConfigError):
        DelayTiers(bad)


def test_names_and_origin():
    tier = DelayTiers(["30s"]).largest
    assert tier.topic("orders") == "orders.retry-30s"
    assert tier.group("orders-workers") == "orders-workers.retry-30s"
    assert delays.origin_of("orders.retry-30s") == "orders"
    assert delays.origin_of("orders") == "orders"
    assert DelayTiers.of("1s,30s").labels == ["1s", "30s"]
    assert DelayTiers(["2s", "5s"]).topics(["a", "b"]) == [
        "a.retry-2s",
        "b.retry-2s",
        "a.retry-5s",
        "b.retry-5s",
    ]


def test_tier_headers_round_trip():
    tier = DelayTiers(["2s"]).largest
    headers = dict(
        delays.tier_headers(
            due_ms=123,
            attempt=2,
            tier=tier,
            origin_topic="o",
            origin_partition=1,
            origin_offset=7,
            group="g",
            error="E: " + "x" * 1000,
        )
    )
    text = {k: v.decode() for k, v in headers.items()}
    assert delays.header_int(text, delays.DUE) == 123
    assert delays.header_int(text, delays.ATTEMPT) == 2
    assert text[delays.TIER] == "2s" and text[delays.GROUP] == "g"
    assert len(headers[delays.ERROR]) == delays.ERROR_MAX
    assert delays.header_int({delays.DUE: "garbage"}, delays.DUE, 99) == 99


def test_retryable_error_checks_its_delay_at_the_raise():
    assert RetryableError("x", delay="30s").delay_ms == 30_000
    assert RetryableError("x").delay_ms is None
    with pytest.raises(ConfigError):
        RetryableError("x", delay=-1)
    with pytest.raises(ConfigError):
        RetryableError("x", delay="later")


def test_worker_refuses_bad_tier_settings_before_connecting():
    with pytest.raises(ConfigError):
        Worker("127.0.0.1:1", "t", "g", lambda m: None, retry_tiers=["5m", "1s"])
    with pytest.raises(ConfigError):
        Worker("127.0.0.1:1", "t", "g", lambda m: None, max_attempts=3)  # no tiers
    worker = Worker(
        "127.0.0.1:1", "t", "g", lambda m: None, retry_tiers=["1s", "30s"], metrics=False
    )
    assert worker.max_attempts == 3
