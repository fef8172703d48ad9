"""Dual-writer logic without brokers: mode sources, routing per mode, failure policy, spool."""

from __future__ import annotations

import json
import os

import pytest

from mqmigrate.sdk.dualwrite import (
    DualWriter,
    EnvMode,
    FileMode,
    WriteMode,
    StaticMode,
    mode_source_from_spec,
)
from mqmigrate.errors import ConfigError, DualWriteError, MqMigrateError


class FakeSide:
    """A side that records what it confirmed and fails while ``down``."""

    def __init__(self, kind: str):
        self.kind = kind
        self.sent: list[tuple[bytes, str, dict, str | None]] = []
        self.down = False
        self.attempts = 0
        self.closed = False

    def send(self, body, message_id, headers, key):
        self.attempts += 1
        if self.down:
            raise MqMigrateError(f"{self.kind} is down", transient=True)
        self.sent.append((body, message_id, dict(headers), key))

    def close(self):
        self.closed = True


@pytest.fixture
def sides():
    return FakeSide("rabbitmq"), FakeSide("kafka")


def writer(sides, mode, **kwargs) -> DualWriter:
    source, kafka = sides
    kwargs.setdefault("sleep", lambda seconds: None)
    return DualWriter(
        source, {}, "topic", mode_source=mode, kafka_side=kafka, metrics=False, **kwargs
    )


# -- mode sources --------------------------------------------------------------------------------


def test_mode_parse_accepts_the_three_modes_and_refuses_others():
    assert [WriteMode.parse(t) for t in ("source-only", " DUAL\n", "kafka_only")] == [
        WriteMode.SOURCE_ONLY,
        WriteMode.DUAL,
        WriteMode.KAFKA_ONLY,
    ]
    with pytest.raises(ConfigError, match="unknown dual-write mode"):
        WriteMode.parse("both")


def test_mode_the_former_name_of_write_mode_still_imports():
    from mqmigrate.sdk.dualwrite import Mode

    assert Mode is WriteMode
    assert Mode.parse("dual") is WriteMode.DUAL
    assert StaticMode(Mode.KAFKA_ONLY).current() is WriteMode.KAFKA_ONLY


def test_env_mode_follows_the_variable_and_keeps_the_last_good_value(monkeypatch):
    monkeypatch.delenv("T_MODE", raising=False)
    source = EnvMode("T_MODE", default="source-only")
    assert source.current() is WriteMode.SOURCE_ONLY
    monkeypatch.setenv("T_MODE", "dual")
    assert source.current() is WriteMode.DUAL
    monkeypatch.setenv("T_MODE", "dull")  # a typo must not redirect the producers
    assert source.current() is WriteMode.DUAL
    monkeypatch.setenv("T_MODE", "kafka-only")
    assert source.current() is WriteMode.KAFKA_ONLY


def test_file_mode_rereads_on_change_default_when_missing(tmp_path):
    path = tmp_path / "mode"
    source = FileMode(path, default=WriteMode.SOURCE_ONLY, interval=0)
    assert source.current() is WriteMode.SOURCE_ONLY
    path.write_text("dual\n")
    assert source.current() is WriteMode.DUAL
    path.write_text("garbage")
    assert source.current() is WriteMode.DUAL
    path.write_text("kafka-only")
    os.utime(path, ns=(1, 1))  # a change the size alone would not reveal
    assert source.current() is WriteMode.KAFKA_ONLY
    path.unlink()
    assert source.current() is WriteMode.SOURCE_ONLY


def test_file_mode_checks_at_most_every_interval(tmp_path):
    path = tmp_path / "mode"
    path.write_text("dual")
    source = FileMode(path, interval=3600)
    assert source.current() is WriteMode.DUAL
    path.write_text("kafka-only")
    assert source.current() is WriteMode.DUAL  # within the interval: no stat, no read


def test_mode_source_from_spec(tmp_path, monkeypatch):
    assert isinstance(mode_source_from_spec("dual"), StaticMode)
    assert isinstance(mode_source_from_spec(f"file:{tmp_path}/m"), FileMode)
    monkeypatch.setenv("X_MODE", "kafka-only")
    assert mode_source_from_spec("env:X_MODE").current() is WriteMode.KAFKA_ONLY
    with pytest.raises(ConfigError, match="bootstrap"):
        mode_source_from_spec("kafka:control#svc")
    with pytest.raises(ConfigError, match="unknown mode source"):
        mode_source_from_spec("http://x")


# -- routing and failure policy ---------------------------------------------------------------


def test_each_mode_writes_where_it_says(sides):
    source, kafka = sides
    assert writer(sides, "source-only").send(b"a", message_id="1").written == ("source",)
    assert writer(sides, "kafka-only").send(b"b", message_id="2").written == ("kafka",)
    result = writer(sides, "dual").send(b"c", message_id="3", key="k", headers={"h": "v"})
    assert result.written == ("source", "kafka")
    assert [m[1] for m in source.sent] == ["1", "3"]
    assert [m[1] for m in kafka.sent] == ["2", "3"]
    assert source.sent[-1] == kafka.sent[-1] == (b"c", "3", {"h": "v"}, "k")


def test_generated_ids_are_the_same_on_both_sides(sides):
    result = writer(sides, "dual").send(b"x")
    source, kafka = sides
    assert source.sent[0][1] == kafka.sent[0][1] == result.message_id


def test_mode_switch_takes_effect_on_the_next_message(sides, tmp_path):
    path = tmp_path / "mode"
    w = writer(sides, FileMode(path, interval=0))
    w.send(b"1")
    path.write_text("dual")
    w.send(b"2")
    path.write_text("kafka-only")
    w.send(b"3")
    source, kafka = sides
    assert [m[0] for m in source.sent] == [b"1", b"2"]
    assert [m[0] for m in kafka.sent] == [b"2", b"3"]


def test_authoritative_failure_writes_nothing_and_raises(sides):
    source, kafka = sides
    source.down = True
    with pytest.raises(DualWriteError) as info:
        writer(sides, "dual", retries=2).send(b"x", message_id="m")
    assert info.value.written == ()
    assert source.attempts == 3  # first try + 2 retries
    assert kafka.sent == []


def test_kafka_authoritative_is_written_first(sides):
    source, kafka = sides
    source.down = True
    with pytest.raises(DualWriteError) as info:
        writer(sides, "dual", authoritative="kafka", retries=0).send(b"x", message_id="m")
    assert info.value.written == ("kafka",)
    assert kafka.sent[0][1] == "m"


def test_strict_policy_raises_and_says_what_was_written(sides):
    source, kafka = sides
    kafka.down = True
    with pytest.raises(DualWriteError, match="on the source side only") as info:
        writer(sides, "dual", retries=1).send(b"x", message_id="m")
    assert info.value.written == ("source",)
    assert kafka.attempts == 2 and len(source.sent) == 1


def test_retry_with_backoff_recovers_without_spooling(sides, tmp_path):
    source, kafka = sides
    delays = []
    calls = {"n": 0}
    original = kafka.send

    def flaky(*args):
        calls["n"] += 1
        if calls["n"] < 3:
            raise MqMigrateError("blip", transient=True)
        original(*args)

    kafka.send = flaky
    w = writer(sides, "dual", spool_dir=tmp_path, retries=3, backoff=0.1, sleep=delays.append)
    assert w.send(b"x", message_id="m").spooled == ()
    assert len(delays) == 2 and delays[0] <= 0.1 and delays[1] <= 0.2  # jittered, doubling
    assert w.spooled() == {"source": 0, "kafka": 0}


def test_spool_then_replay_delivers_once(sides, tmp_path):
    source, kafka = sides
    kafka.down = True
    w = writer(sides, "dual", spool_dir=tmp_path, retries=0)
    result = w.send(b"\x00binary", message_id="m1", key="k", headers={"h": "v"})
    assert result.written == ("source",) and result.spooled == ("kafka",)
    entry = json.loads((tmp_path / "kafka.jsonl").read_text())
    assert entry["id"] == "m1" and entry["side"] == "kafka" and entry["key"] == "k"
    assert w.spooled() == {"source": 0, "kafka": 1}

    assert w.replay().failed == 1  # still down: kept, attempts counted
    assert json.loads((tmp_path / "kafka.jsonl").read_text())["attempts"] == 2

    kafka.down = False
    assert w.replay().sent == 1
    assert kafka.sent == [(b"\x00binary", "m1", {"h": "v"}, "k")]
    assert w.spooled() == {"source": 0, "kafka": 0}
    assert w.replay().sent == 0  # nothing left: no second delivery


def test_replay_resumes_an_interrupted_batch_and_keeps_corrupt_lines(sides, tmp_path):
    source, kafka = sides
    w = writer(sides, "dual", spool_dir=tmp_path)
    good = {"v": 1, "id": "left", "side": "kafka", "body": "aGk=", "key": None, "headers": {}}
    (tmp_path / "kafka.jsonl.replay-1").write_text(json.dumps(good) + "\n{not json\n")
    result = w.replay()
    assert (result.sent, result.corrupt) == (1, 1)
    assert kafka.sent == [(b"hi", "left", {}, None)]
    assert (tmp_path / "kafka.corrupt.jsonl").read_text() == "{not json\n"
    assert not list(tmp_path.glob("kafka.jsonl.replay-*"))


def test_spool_policy_needs_a_directory(sides):
    with pytest.raises(ConfigError, match="spool_dir"):
        writer(sides, "dual", on_secondary_failure="spool")


def test_unwritable_spool_raises_instead_of_dropping(sides, tmp_path):
    source, kafka = sides
    kafka.down = True
    w = writer(sides, "dual", spool_dir=tmp_path, retries=0)
    (tmp_path / "kafka.jsonl").mkdir()  # appending to a directory fails
    with pytest.raises(DualWriteError, match="could not be spooled") as info:
        w.send(b"x", message_id="m")
    assert info.value.written == ("source",)


def test_close_closes_both_sides(sides):
    source, kafka = sides
    writer(sides, "dual").close()
    assert source.closed and kafka.closed


def test_terminal_errors_are_not_retried(sides):
    source, kafka = sides

    def refuse(*args):
        source.attempts += 1
        raise MqMigrateError("queue does not exist", transient=False)

    source.send = refuse
    with pytest.raises(DualWriteError, match="after 1 attempt"):
        writer(sides, "source-only", retries=4).send(b"x", message_id="m")
    assert source.attempts == 1


def test_replay_tries_a_failing_side_once_and_keeps_everything(sides, tmp_path):
    source, kafka = sides
    kafka.down = True
    w = writer(sides, "dual", spool_dir=tmp_path, retries=0)
    for i in range(3):
        w.send(b"x", message_id=f"m{i}")
    attempts_before = kafka.attempts
    result = w.replay()
    assert (result.sent, result.failed) == (0, 3)
    assert kafka.attempts == attempts_before + 1  # one try, not one timeout per message
    assert w.spooled() == {"source": 0, "kafka": 3}
    kafka.down = False
    assert w.replay().sent == 3
    assert [m[1] for m in kafka.sent] == ["m0", "m1", "m2"]  # spool order kept


# -- delayed sends ---------------------------------------------------------------------------------


class DelayingSide(FakeSide):
    """A side that can delay: records the delay it was asked for (ms, or None)."""

    def __init__(self, kind: str, limit_ms: int | None = None):
        super().__init__(kind)
        self.delays: list[int | None] = []
        self.limit_ms = limit_ms

    def check_delay(self, delay_ms):
        if self.limit_ms is not None and delay_ms > self.limit_ms:
            raise ConfigError(f"{self.kind} cannot delay {delay_ms} ms")

    def send(self, body, message_id, headers, key, delay_ms=None):
        super().send(body, message_id, headers, key)
        self.delays.append(delay_ms)


@pytest.fixture
def delaying():
    return DelayingSide("rabbitmq"), DelayingSide("kafka", limit_ms=5000)


@pytest.mark.parametrize(
    "mode, source_delays, kafka_delays",
    [("source-only", 1, 0), ("kafka-only", 0, 1), ("dual", 1, 1)],
)
def test_a_delay_reaches_every_side_the_mode_writes(delaying, mode, source_delays, kafka_delays):
    source, kafka = delaying
    writer(delaying, mode).send(b"x", message_id="m", delay="2s")
    for side, expected in ((source, source_delays), (kafka, kafka_delays)):
        assert len(side.delays) == expected
        # what is left of 2 s at the write: a few ms may have passed, never more than asked
        assert all(1900 < d <= 2000 for d in side.delays)


@pytest.mark.parametrize("bad", [-1, "soon", float("nan")])
def test_a_bad_delay_is_refused_before_anything_is_written(delaying, bad):
    with pytest.raises(ConfigError):
        writer(delaying, "dual").send(b"x", delay=bad)
    assert delaying[0].sent == [] and delaying[1].sent == []


def test_a_delay_one_side_cannot_honour_writes_neither_side(delaying):
    source, kafka = delaying
    with pytest.raises(ConfigError, match="cannot delay"):
        writer(delaying, "dual").send(b"x", delay=6)  # kafka's limit is 5 s
    assert source.sent == [] and kafka.sent == []


def test_a_side_without_delays_refuses_a_delayed_send(sides):
    with pytest.raises(ConfigError, match="cannot delay a message"):
        writer(sides, "source-only").send(b"x", delay=1)
    assert sides[0].sent == []


def test_a_spooled_delayed_message_keeps_its_due_time(delaying, tmp_path):
    source, kafka = delaying
    kafka.down = True
    w = writer(delaying, "dual", spool_dir=tmp_path, retries=0)
    w.send(b"x", message_id="m", delay=0.3)
    entry = json.loads((tmp_path / "kafka.jsonl").read_text())
    assert entry["due_ms"] > 0
    kafka.down = False
    import time as _time

    _time.sleep(0.35)
    assert w.replay().sent == 1
    assert kafka.delays == [None]  # already due when replayed: sent plain, not delayed again


def test_sqs_and_rabbitmq_delay_limits():
    from mqmigrate.sdk.dualwrite import PikaSource, SqsSource

    sqs = SqsSource("http://sqs/q", client=object())
    sqs.check_delay(900_000)
    with pytest.raises(ConfigError, match="at most 900 s"):
        sqs.check_delay(900_001)
    with pytest.raises(ConfigError, match="FIFO"):
        SqsSource("http://sqs/q.fifo", client=object()).check_delay(1000)
    pika_source = PikaSource("amqp://x", routing_key="orders")
    assert pika_source.wait_queue(30_000) == "mqmigrate.delay.default.orders.30s"
    # what is left of a delay on a retry reuses the queue of the whole seconds above it
    assert pika_source.wait_queue(29_997) == "mqmigrate.delay.default.orders.30s"
    assert pika_source.wait_queue(250) == "mqmigrate.delay.default.orders.300ms"
    with pytest.raises(ConfigError, match="x-delayed-message"):
        PikaSource("amqp://x", routing_key="orders", delay_via="x-delay").check_delay(1000)


def test_kafka_side_without_tiers_refuses_a_delay():
    from mqmigrate.kafka.delays import DelayTiers
    from mqmigrate.sdk.dualwrite import KafkaSide

    side = KafkaSide({"bootstrap.servers": "127.0.0.1:1"}, "orders")
    with pytest.raises(ConfigError, match="needs delay tiers"):
        side.check_delay(1000)
    tiered = KafkaSide({"bootstrap.servers": "127.0.0.1:1"}, "orders", tiers=DelayTiers(["1s"]))
    with pytest.raises(ConfigError, match="longer than the largest"):
        tiered.check_delay(2000)
