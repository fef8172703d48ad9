"""One metrics endpoint for several workloads: labels per workload, /readyz names the stalled
one."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

from tests.support.fakes import FakeProducer
from mqmigrate.bridge.engine import BridgeConfig, Engine, StopReason
from mqmigrate.bridge.ops import OpsServer, OpsTarget
from mqmigrate.sources.memory import MemoryBroker, MemorySource, make_messages


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_readyz_not_ready_when_one_workload_consumes_but_kafka_acknowledges_nothing():
    broker = MemoryBroker()
    broker.publish("a", make_messages(20, prefix="a"))
    broker.publish("b", make_messages(20, prefix="b"))
    config = dict(idle_exit=None, stall_after=0.3, shutdown_timeout=0.5)
    # workload "stuck": Kafka never answers (its records stay in flight)
    stuck = Engine(
        MemorySource(broker, "a"),
        FakeProducer(delay_polls=10**9),
        BridgeConfig(topic="ta", **config),
    )
    fine = Engine(MemorySource(broker, "b"), FakeProducer(), BridgeConfig(topic="tb", **config))
    threads = [threading.Thread(target=e.run, daemon=True) for e in (stuck, fine)]
    server = OpsServer(
        [
            OpsTarget(
                stuck,
                {"workload": "stuck", "queue": "a", "topic": "ta"},
                lambda: not threads[0].is_alive(),
            ),
            OpsTarget(
                fine,
                {"workload": "fine", "queue": "b", "topic": "tb"},
                lambda: not threads[1].is_alive(),
            ),
        ],
        0,
    ).start()
    try:
        for t in threads:
            t.start()
        assert _wait(lambda: fine.stats.acked == 20 and stuck.stats.in_flight == 20)
        assert _wait(lambda: _get(server.port, "/readyz")[0] == 503, timeout=5)
        status, body = _get(server.port, "/readyz")
        assert status == 503 and "stuck" in body and "fine" not in body
        assert _get(server.port, "/healthz")[0] == 200  # both loops turn
        status, text = _get(server.port, "/metrics")
        assert status == 200
        assert (
            'mqmigrate_bridge_messages_acked_total{queue="b",topic="tb",workload="fine"} 20.0'
            in text
        )
        assert 'mqmigrate_bridge_in_flight{queue="a",topic="ta",workload="stuck"} 20.0' in text
        assert text.count("# TYPE mqmigrate_bridge_in_flight gauge") == 1  # one family
    finally:
        for e in (stuck, fine):
            e.request_stop(StopReason.signal)
        for t in threads:
            t.join(timeout=10)
        server.stop()
    assert not any(t.is_alive() for t in threads)


def test_readyz_ready_while_every_running_workload_is_and_ignores_finished_ones():
    broker = MemoryBroker()
    broker.publish("a", make_messages(5, prefix="a"))
    broker.publish("b", make_messages(5, prefix="b"))
    done = Engine(
        MemorySource(broker, "a"), FakeProducer(), BridgeConfig(topic="ta", idle_exit=0.1)
    )
    running = Engine(
        MemorySource(broker, "b"), FakeProducer(), BridgeConfig(topic="tb", idle_exit=None)
    )
    t_done = threading.Thread(target=done.run, daemon=True)
    t_run = threading.Thread(target=running.run, daemon=True)
    server = OpsServer(
        [
            OpsTarget(done, {"workload": "done"}, lambda: not t_done.is_alive()),
            OpsTarget(running, {"workload": "running"}, lambda: not t_run.is_alive()),
        ],
        0,
    ).start()
    try:
        t_done.start()
        t_run.start()
        t_done.join(timeout=10)
        assert done.stats.acked == 5 and not t_done.is_alive()  # drained and ended
        assert _wait(lambda: running.stats.acked == 5)
        assert _get(server.port, "/readyz") == (200, "ready\n")
        running.request_stop(StopReason.signal)
        t_run.join(timeout=10)
        status, body = _get(server.port, "/readyz")  # nothing runs any more
        assert status == 503 and "done" in body and "running" in body
        assert _get(server.port, "/healthz")[0] == 503
    finally:
        running.request_stop(StopReason.signal)
        server.stop()
