"""run_bridges with several workloads: a failing one stops the others, one signal stops all.

Engines run on the in-memory source and the fake producer (``_prepare`` is replaced), so this
tests the orchestration: threads, stop requests, the summary and the exit code.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.support.fakes import FakeProducer
from mqmigrate.bridge import run as bridge_run
from mqmigrate.bridge.engine import BridgeConfig, Engine
from mqmigrate.bridge.run import BridgeOptions, run_bridges
from mqmigrate.errors import ExitCode, SourceError
from mqmigrate.sources.memory import MemoryBroker, MemorySource, make_messages


def _options(*workloads: str) -> list[BridgeOptions]:
    return [
        BridgeOptions(
            source="memory://", queue=w, kafka="-", topic=f"t-{w}", workload=w, log_format="json"
        )
        for w in workloads
    ]


def _install(
    monkeypatch, sources: dict[str, MemorySource], idle_exit: float | None, after_open=None
) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}

    def prepare(opts, on_tick, producers):
        source = sources[opts.workload]
        engine = Engine(
            source,
            FakeProducer(),
            BridgeConfig(
                topic=opts.topic,
                idle_exit=idle_exit,
                reconnect_timeout=0.5,
                backoff_initial=0.01,
                backoff_max=0.05,
            ),
            on_tick=on_tick,
        )
        engine.open()
        if after_open:
            after_open(opts.workload, source)
        engines[opts.workload] = engine
        return bridge_run._Workload(opts, engine)

    monkeypatch.setattr(bridge_run, "_prepare", prepare)
    return engines


def test_a_failing_workload_stops_the_others_gracefully_and_the_run_exits_2(monkeypatch):
    broker = MemoryBroker()
    broker.publish("good", make_messages(30, prefix="g"))
    broker.publish("bad", make_messages(30, prefix="b"))
    sources = {
        "good": MemorySource(broker, "good"),
        "bad": MemorySource(broker, "bad", fail_receive_on={3}),
    }

    def break_bad(workload, source):
        if workload == "bad":  # the reconnect after the injected failure finds no queue
            source.missing_queue = True

    engines = _install(monkeypatch, sources, idle_exit=None, after_open=break_bad)
    started = time.monotonic()
    result = run_bridges(_options("good", "bad"))  # "good" would run forever on its own
    assert time.monotonic() - started < 30
    assert result.code == ExitCode.USAGE and isinstance(result.error, SourceError)
    by_id = {w["workload"]: w for w in result.summary["workloads"]}
    assert by_id["bad"]["stopped"] == "error" and "does not exist" in by_id["bad"]["error"]
    assert by_id["good"]["stopped"] == "signal"  # asked to stop, drained its in-flight work
    assert by_id["good"]["in_flight"] == 0 and by_id["good"]["acked"] == 30
    assert engines["good"].stats.acked == 30


@pytest.mark.parametrize(
    "sig,code", [(signal.SIGTERM, ExitCode.OK), (signal.SIGINT, ExitCode.INTERRUPTED)]
)
def test_one_signal_stops_every_workload(monkeypatch, sig, code):
    broker = MemoryBroker()
    for q in ("a", "b", "c"):
        broker.publish(q, make_messages(20, prefix=q))
    sources = {q: MemorySource(broker, q) for q in ("a", "b", "c")}
    engines = _install(monkeypatch, sources, idle_exit=None)
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), sig))
    timer.start()
    try:
        result = run_bridges(_options("a", "b", "c"))
    finally:
        timer.cancel()
    assert result.code == code and result.error is None
    assert [
        (w["workload"], w["stopped"], w["acked"], w["in_flight"])
        for w in result.summary["workloads"]
    ] == [("a", "signal", 20, 0), ("b", "signal", 20, 0), ("c", "signal", 20, 0)]
    assert {s: signal.getsignal(s) for s in before} == before  # the handlers are restored
    assert all(not e.stats.consuming for e in engines.values())


def test_drain_ends_when_all_are_drained(monkeypatch):
    broker = MemoryBroker()
    broker.publish("small", make_messages(5, prefix="s"))
    broker.publish("large", make_messages(500, prefix="l"))
    sources = {q: MemorySource(broker, q) for q in ("small", "large")}
    _install(monkeypatch, sources, idle_exit=0.3)
    result = run_bridges(_options("small", "large"))
    assert result.code == ExitCode.OK
    assert [(w["workload"], w["stopped"], w["acked"]) for w in result.summary["workloads"]] == [
        ("small", "drained", 5),
        ("large", "drained", 500),
    ]
