"""The demo's summary arithmetic: lost, duplicated and the longest time without a consumer."""

from __future__ import annotations

import pytest

from mqmigrate.demo.traffic import TrafficRecord, Processed, longest_gap, summarize


def test_every_id_once_no_loss_no_duplicate():
    sent = {"a": 0.0, "b": 0.1, "c": 0.2}
    events = [
        Processed("a", 0.05, "legacy"),
        Processed("b", 0.15, "legacy"),
        Processed("c", 0.25, "worker"),
    ]
    s = summarize(sent, events)
    assert (s.sent, s.processed, s.unique, s.lost, s.duplicated) == (3, 3, 3, 0, 0)
    assert (s.processed_legacy, s.processed_worker) == (2, 1)


def test_duplicates_are_processed_minus_unique_and_lost_are_sent_minus_unique():
    sent = {"a": 0.0, "b": 0.0, "c": 0.0}
    events = [
        Processed("a", 1.0, "legacy"),
        Processed("a", 2.0, "worker"),
        Processed("b", 3.0, "worker"),
        Processed("b", 3.5, "worker"),
    ]
    s = summarize(sent, events)
    assert s.processed == 4
    assert s.unique == 2
    assert s.duplicated == s.processed - s.unique == 2
    assert s.lost == 1 and s.lost_ids == ["c"]


def test_ids_not_sent_by_the_demo_are_ignored():
    s = summarize({"a": 0.0}, [Processed("a", 1.0, "legacy"), Processed("stray", 1.5, "worker")])
    assert (s.processed, s.unique, s.duplicated) == (1, 1, 0)


def test_gap_counts_only_while_a_message_waits():
    # the producer pauses 10 s between b and c: nobody was waiting, so no gap
    sent = {"a": 0.0, "b": 1.0, "c": 11.0}
    events = [
        Processed("a", 0.1, "legacy"),
        Processed("b", 1.1, "legacy"),
        Processed("c", 11.2, "worker"),
    ]
    # gaps while something waited: 0.1 (a), 0.1 (b), 0.2 (c, sent 11.0, processed 11.2)
    assert longest_gap(sent, events) == pytest.approx(0.2)


def test_gap_spans_a_consumer_switch_with_messages_waiting():
    # c and d were sent while the legacy consumer was leaving; the worker took them 3 s later
    sent = {"a": 0.0, "b": 0.5, "c": 1.0, "d": 1.5}
    events = [
        Processed("a", 0.1, "legacy"),
        Processed("b", 0.6, "legacy"),
        Processed("c", 3.6, "worker"),
        Processed("d", 3.7, "worker"),
    ]
    assert longest_gap(sent, events) == pytest.approx(2.6)  # c waited from 1.0 to 3.6


def test_gap_uses_the_first_processing_of_an_id():
    sent = {"a": 0.0, "b": 0.0}
    events = [
        Processed("a", 0.5, "legacy"),
        Processed("b", 1.0, "legacy"),
        Processed("a", 9.0, "worker"),
    ]
    assert longest_gap(sent, events) == pytest.approx(0.5)


def test_gap_of_nothing_processed_is_zero_and_reported_as_lost():
    s = summarize({"a": 0.0}, [])
    assert s.longest_gap_s == 0.0 and s.lost == 1


def test_traffic_record_claim_skips_and_counts_an_id_already_processed():
    traffic = TrafficRecord()
    traffic.sent("a", 0.0, 0.01)
    traffic.record("a", "legacy")
    assert traffic.claim("a", "worker") is False
    assert traffic.skipped == 1
    traffic.sent("b", 0.0, 0.01)
    assert traffic.claim("b", "worker") is True
    assert traffic.unprocessed() == set()
    s = summarize(traffic.sent_at, traffic.events, skipped=traffic.skipped)
    assert (s.processed, s.duplicated, s.duplicate_deliveries_skipped) == (2, 0, 1)


def test_cli_refuses_a_too_small_run_before_touching_the_sandbox(tmp_path):
    from mqmigrate.cli import main

    assert main(["demo", "--messages", "5", "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()
