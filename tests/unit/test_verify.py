"""Reconciliation rules and the verify ledger (no brokers)."""

from __future__ import annotations

import pytest

from mqmigrate.errors import ExitCode, LedgerError
from mqmigrate.verify import body_hash, reconcile
from mqmigrate.verify.ledger import LedgerWriter, read_ledger

A, B, C = body_hash(b"a"), body_hash(b"b"), body_hash(b"c")


def test_clean() -> None:
    r = reconcile([("1", A), ("2", B)], [("1", A), ("2", B)])
    assert (r.missing, r.altered, r.duplicated, r.unexpected) == ([], [], {}, [])
    assert r.exit_code() == ExitCode.OK and r.lag == 0


def test_missing_is_a_mismatch() -> None:
    r = reconcile([("1", A), ("2", B)], [("1", A)])
    assert r.missing == ["2"] and r.lag == 1
    assert r.exit_code() == ExitCode.NEGATIVE


def test_duplicates_counted_and_fail_only_on_request() -> None:
    r = reconcile([("1", A)], [("1", A), ("1", A), ("1", A)])
    assert r.duplicated == {"1": 2} and r.duplicate_copies == 2
    assert r.exit_code() == ExitCode.OK
    assert r.exit_code(fail_on_duplicates=True) == ExitCode.NEGATIVE


def test_altered_and_unexpected() -> None:
    r = reconcile([("1", A), ("2", B)], [("1", C), ("2", B), ("9", A), (None, A)])
    assert r.altered == ["1"] and r.unexpected == ["9"] and r.kafka_without_id == 1
    assert r.exit_code() == ExitCode.NEGATIVE
    d = r.to_dict()
    assert d["schema"] == "mqmigrate.verify/v1" and d["share_backlog"] is None
    assert d["counts"]["kafka"] == 4 and d["samples"]["altered"] == ["1"]


def test_duplicate_with_one_altered_copy_is_altered() -> None:
    r = reconcile([("1", A)], [("1", A), ("1", C)])
    assert r.altered == ["1"] and r.duplicated == {"1": 1}


def test_samples_keep_twenty() -> None:
    r = reconcile([(str(i), A) for i in range(50)], [])
    assert len(r.to_dict()["samples"]["missing"]) == 20 and r.to_dict()["counts"]["missing"] == 50


def test_ledger_round_trip_and_torn_tail(tmp_path) -> None:
    path = tmp_path / "l.jsonl"
    with LedgerWriter(path) as w:
        w.record("x", b"a")
        w.record("y", None)
    with path.open("a") as fh:
        fh.write('{"id": "z", "sha')  # crash mid-write
    assert list(read_ledger(path)) == [("x", A), ("y", body_hash(b""))]


def test_ledger_corrupt_middle_line(tmp_path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text('garbage\n{"id": "x", "sha256": "00"}\n')
    with pytest.raises(LedgerError, match=":1:"):
        list(read_ledger(path))


def test_share_backlog_total_lag() -> None:
    from mqmigrate.kafka.protocol import ShareOffset
    from mqmigrate.kafka.backlog import backlog_of

    offsets = {0: ShareOffset(0, 2), 1: ShareOffset(0, 8)}
    assert backlog_of(offsets).total == 10
    assert backlog_of({}).total is None  # the group has no position on the topic: unknown, not 0
    assert backlog_of({**offsets, 2: ShareOffset(None, None)}).total is None
