"""The consumer switch: its file format, the cuts, and the cutover actions that write it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqmigrate.sdk import consumerswitch as cs
from mqmigrate.cutover import actions, bridgeproc
from mqmigrate.cutover.actions import ActionContext
from mqmigrate.errors import CutoverError, UsageError
from mqmigrate.playbooks import graph
from mqmigrate.playbooks.model import Action
from mqmigrate.playbooks.render import WorkloadSpec, build_playbook

SOURCE = {"kind": "rabbitmq", "credentials": {"env": "RABBITMQ_URI"}, "queue": "orders"}


class Record:
    def __init__(self, partition: int, offset: int):
        self.partition, self.offset = partition, offset


def test_switch_round_trips_and_keeps_only_the_cut_of_its_side():
    to_kafka = cs.Switch(cs.KAFKA, "orders", {0: 12, 1: 7})
    assert cs.Switch.parse(to_kafka.to_json()) == to_kafka
    back = cs.Switch(cs.SOURCE, "orders", end_offsets={0: 40})
    assert cs.Switch.parse(back.to_json()) == back
    assert "start_offsets" not in back.to_json()


@pytest.mark.parametrize(
    "text",
    ["{}", '{"consumers": "both"}', "not json", '{"consumers": "kafka", "start_offsets": [1]}'],
)
def test_an_invalid_switch_file_is_a_usage_error(tmp_path, text):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(UsageError):
        cs.read(path)


def test_cuts_decide_what_the_worker_processes():
    to_kafka = cs.Switch(cs.KAFKA, "t", {0: 10})
    # below the cut: shadow copies (processed by the source consumer, or moved again by drain)
    assert not to_kafka.worker_processes(0, 9) and to_kafka.worker_processes(0, 10)
    assert to_kafka.worker_processes(1, 0)  # a partition without a cut: nothing to skip
    back = cs.Switch(cs.SOURCE, "t", end_offsets={0: 50})
    # below the cut back: moved by the drain bridge, only the worker can process them
    assert back.worker_processes(0, 49) and not back.worker_processes(0, 50)
    assert not cs.Switch().worker_processes(0, 0)  # never switched: the worker takes nothing


def test_worker_handler_follows_the_current_switch():
    state = {"now": cs.Switch(cs.KAFKA, "t", {0: 5})}
    handled, skipped = [], []
    handle = cs.worker_handler(
        lambda: state["now"], lambda m: handled.append(m.offset), lambda m: skipped.append(m.offset)
    )
    for offset in (4, 5):
        assert handle(Record(0, offset)) is None  # None: the worker ACCEPTs
    state["now"] = cs.Switch(cs.SOURCE, "t", end_offsets={0: 7})
    for offset in (6, 7):
        handle(Record(0, offset))
    assert handled == [5, 6] and skipped == [4, 7]


def test_consumer_switch_reader_keeps_the_last_valid_state(tmp_path):
    path = tmp_path / "s.json"
    reader = cs.ConsumerSwitch(path, interval=0)
    assert reader.current() == cs.Switch()  # no file: the service runs as before
    cs.write(path, cs.Switch(cs.KAFKA, "t", {0: 3}))
    assert reader.current().consumers == cs.KAFKA
    path.write_text("{half")
    assert reader.current() == cs.Switch(cs.KAFKA, "t", {0: 3})


def _handover(tmp_path):
    playbook = build_playbook(
        [WorkloadSpec(id="orders", source=SOURCE, topic="orders", partitions=2, group="orders")]
    )
    return playbook, playbook.workloads[0]


def test_plan_hands_over_shadow_then_drain_through_the_switch():
    playbook, wl = _handover(None)
    assert graph.check(playbook) == []
    consumers = wl.phases.consumers
    assert [(s.id, s.action.value) for s in consumers.steps] == [
        ("shadow-bridge-stop-for-switch", "bridge.stop"),
        ("switch-consumers", "consumers.kafka"),
        ("drain-bridge", "bridge.start"),
    ]
    assert [s.action.value for s in consumers.rollback] == [
        "bridge.stop",
        "consumers.source",
        "bridge.start",
    ]
    assert [s.action.value for s in wl.phases.drain.steps] == ["source.drain"]
    keyed = build_playbook(
        [
            WorkloadSpec(
                id="o",
                source=SOURCE,
                topic="o",
                partitions=2,
                group="o",
                consumer_type="consumer-group",
                key="routing-key",
            )
        ]
    ).workloads[0]
    assert [s.action for s in keyed.phases.consumers.steps] == [Action.consumers_switch]


def test_plan_hands_over_drain_only_through_the_switch_without_a_shadow():
    playbook = build_playbook(
        [WorkloadSpec(id="orders", source=SOURCE, topic="orders", partitions=2, group="orders")],
        "drain-only",
    )
    wl = playbook.workloads[0]
    assert graph.check(playbook) == []
    assert [(s.id, s.action.value, s.requires) for s in wl.phases.consumers.steps] == [
        ("switch-consumers", "consumers.kafka", ["provision"]),
        ("drain-bridge", "bridge.start", ["switch-consumers"]),
    ]
    assert [s.action.value for s in wl.phases.consumers.rollback] == [
        "bridge.stop",
        "consumers.source",
    ]  # no shadow to restart
    assert [s.action.value for s in wl.phases.drain.steps] == ["source.drain"]
    assert "source.delete-shadow" not in {s.action.value for _, s in wl.steps()}
    dual = build_playbook(
        [WorkloadSpec(id="o", source=SOURCE, topic="o", partitions=2, group="o")], "dual-write"
    ).workloads[0]
    assert [s.action for s in dual.phases.consumers.steps] == [Action.consumers_switch]


def _ctx(tmp_path, wl, playbook, action: Action, phase: str = "consumers") -> ActionContext:
    step = next(
        s for s in wl.phases.consumers.steps + wl.phases.consumers.rollback if s.action is action
    )
    return ActionContext(
        playbook,
        tmp_path / "run",
        wl,
        step,
        phase,
        "k:9092",
        "file:x",
        consumer_switch=str(tmp_path / "{workload}.consumers.json"),
    )


def test_consumers_kafka_writes_the_cut_once_and_needs_a_still_topic(tmp_path, monkeypatch):
    from mqmigrate.cutover import probes

    playbook, wl = _handover(tmp_path)
    ends = {"now": {0: 10, 1: 4}}
    monkeypatch.setattr(probes, "topic_end_offsets", lambda b, t: ends["now"])
    started_at = []
    monkeypatch.setattr(
        actions,
        "start_share_group_at",
        lambda b, g, t, o: started_at.append((g, t, dict(o))) or "started",
    )
    running = {"info": bridgeproc.BridgeInfo(1, 2, "shadow", "t")}
    monkeypatch.setattr(bridgeproc, "running", lambda d, w: running["info"])
    ctx = _ctx(tmp_path, wl, playbook, Action.consumers_kafka)
    with pytest.raises(CutoverError, match="still topic"):
        actions.consumers_kafka(ctx)
    assert not Path(tmp_path / "orders.consumers.json").exists()
    running["info"] = None
    assert "cut {0: 10, 1: 4}" in actions.consumers_kafka(ctx)
    ends["now"] = {0: 99, 1: 99}
    assert started_at == [(wl.target.consumer.group, "orders", {0: 10, 1: 4})]
    actions.consumers_kafka(ctx)  # a re-run after a crash keeps the first cut
    assert len(started_at) == 1
    assert cs.read(tmp_path / "orders.consumers.json") == cs.Switch(
        cs.KAFKA, "orders", {0: 10, 1: 4}
    )
    back = _ctx(tmp_path, wl, playbook, Action.consumers_source)
    assert "cut back {0: 99, 1: 99}" in actions.consumers_source(back)
    assert cs.read(tmp_path / "orders.consumers.json").end_offsets == {0: 99, 1: 99}
    ends["now"] = {0: 120, 1: 120}
    actions.consumers_source(back)  # idempotent
    assert cs.read(tmp_path / "orders.consumers.json").end_offsets == {0: 99, 1: 99}


def test_drain_bridge_of_the_consumers_phase_runs_until_stopped_and_skips_nothing(
    tmp_path, monkeypatch
):
    playbook, wl = _handover(tmp_path)
    started = []

    class Access:
        uri, queue, management_url, kind = "amqp://h", "orders", "http://h", "rabbitmq"

    monkeypatch.setattr(bridgeproc, "running", lambda d, w: None)
    monkeypatch.setattr(
        bridgeproc,
        "start",
        lambda *a, **k: started.append(k) or (bridgeproc.BridgeInfo(1, 2, k["mode"], "t"), True),
    )
    step = next(s for s in wl.phases.consumers.steps if s.id == "drain-bridge")
    for phase in ("consumers", "drain"):
        ctx = ActionContext(
            playbook,
            tmp_path / "run",
            wl,
            step,
            phase,
            "k:9092",
            "file:x",
            access=lambda w: Access(),
        )
        actions.bridge_start(ctx)
    assert [(k["idle_exit"], k["effectively_once"]) for k in started] == [
        (None, False),
        (ctx.drain_idle, True),
    ]


def test_source_drain_replaces_the_consumers_phase_drain_by_one_that_ends(tmp_path, monkeypatch):
    playbook, wl = _handover(tmp_path)
    events = []

    class Access:
        uri, queue, management_url, kind = "amqp://h", "orders", "http://h", "rabbitmq"

    running = {"info": bridgeproc.BridgeInfo(1, 2, "drain", "t")}
    monkeypatch.setattr(bridgeproc, "running", lambda d, w: running["info"])
    monkeypatch.setattr(bridgeproc, "spec_of", lambda d, w: {"idle_exit": None})
    monkeypatch.setattr(bridgeproc, "stop", lambda d, w: events.append("stop"))
    monkeypatch.setattr(
        bridgeproc,
        "start",
        lambda *a, **k: (
            events.append(("start", k["idle_exit"], k["effectively_once"]))
            or (bridgeproc.BridgeInfo(3, 4, "drain", "t"), True)
        ),
    )
    monkeypatch.setattr(bridgeproc, "wait_exit", lambda *a: True)
    monkeypatch.setattr(
        bridgeproc,
        "last_exit",
        lambda d, w: {"exit": 0, "mode": "drain", "summary": {"stopped": "drained"}},
    )
    step = wl.phases.drain.steps[0]
    ctx = ActionContext(
        playbook, tmp_path / "run", wl, step, "drain", "k:9092", "file:x", access=lambda w: Access()
    )
    assert "source drained" in actions.source_drain(ctx)
    # its shadow copies lie below the consumers' cut: the replacement must not skip them
    assert events == ["stop", ("start", ctx.drain_idle, False)]


def test_follower_hands_over_without_a_gap_and_back(tmp_path):
    import time

    path = tmp_path / "s.json"
    log: list[str] = []

    class Old:
        def stop(self):
            log.append("old stopped")

    class FakeWorker:
        def __init__(self, handle):
            self.handle = handle
            log.append("worker started")

        def stop(self):
            log.append("worker stopped")

        def join(self, timeout=None):
            return True

    workers: list[FakeWorker] = []

    def start_worker(handle):
        workers.append(FakeWorker(handle))
        return workers[-1]

    def start_old():
        log.append("old started")
        return Old()

    handled = []
    follower = cs.Follower(
        cs.ConsumerSwitch(path, interval=0),
        lambda m: handled.append(m.offset),
        start_source=start_old,
        start_worker=start_worker,
        idle_exit=0.3,
        interval=0.01,
    )
    follower.start()

    def until(check, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not check() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert check()

    until(lambda: log == ["old started"])
    cs.write(path, cs.Switch(cs.KAFKA, "t", {0: 10}))
    until(lambda: workers)
    workers[0].handle(Record(0, 3))  # a shadow copy: skipped, the old consumer keeps working
    time.sleep(0.1)
    assert follower.source is not None and follower.skipped == 1
    workers[0].handle(Record(0, 10))
    until(lambda: follower.source is None)
    assert log == ["old started", "worker started", "old stopped"] and handled == [10]
    cs.write(path, cs.Switch(cs.SOURCE, "t", end_offsets={0: 12}))
    until(lambda: follower.source is not None)
    workers[0].handle(Record(0, 11))  # below the cut back: the worker finishes it
    until(lambda: follower.worker is None)
    follower.shutdown()
    assert follower.error is None and handled == [10, 11]
    assert log == [
        "old started",
        "worker started",
        "old stopped",
        "old started",
        "worker stopped",
        "old stopped",
    ]  # the last stop: shutdown
    assert (follower.source_stops, follower.worker_stops) == (2, 1)


def test_a_fan_out_topic_keeps_the_person_confirmed_switch():
    """Queues of one fan-out share a topic: a drain bridge per queue in the consumers phase
    would write every queue's copy into every group, so those workloads keep consumers.switch
    and the drain phase that skips ids already in Kafka."""
    specs = [
        WorkloadSpec(
            id=f"q{i}",
            source={**SOURCE, "queue": f"q{i}"},
            topic="shared",
            partitions=2,
            group=f"g{i}",
        )
        for i in range(2)
    ]
    playbook = build_playbook(specs)
    assert graph.check(playbook) == []
    for wl in playbook.workloads:
        assert [s.action for s in wl.phases.consumers.steps] == [Action.consumers_switch]
        assert [s.id for s in wl.phases.drain.steps] == [
            "shadow-bridge-stop-for-drain",
            "drain-bridge",
            "source-drained",
        ]


def test_share_group_started_at_the_cut_over_the_wire(monkeypatch):
    """The cut goes to Kafka as AlterShareGroupOffsets; Kafka's answers: done, group not
    empty (its position is kept), anything else is an error, never a pass."""
    from mqmigrate.errors import ConnectionFailed, MqMigrateError
    from mqmigrate.kafka import protocol

    calls, answer = [], {"raise": None}

    class FakeAdmin:
        def __init__(self, connection, *, timeout):
            calls.append(("connect", connection, timeout))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def alter_share_group_offsets(self, group, topic, offsets):
            calls.append((group, topic, dict(offsets)))
            if answer["raise"] is not None:
                raise answer["raise"]

    monkeypatch.setattr(protocol, "WireAdmin", FakeAdmin)
    assert "starts at the cut" in actions.start_share_group_at(
        "k:9092", "g", "orders", {1: 4, 0: 10}
    )
    assert calls[1] == ("g", "orders", {0: 10, 1: 4}) and calls[0][1] == "k:9092"
    answer["raise"] = protocol.ShareGroupNotEmpty("share group g is not empty")
    assert "position is kept" in actions.start_share_group_at("k:9092", "g", "orders", {0: 1})
    answer["raise"] = MqMigrateError(
        "altering the offsets of share group g failed: UnknownServerError"
    )
    with pytest.raises(CutoverError, match="cannot start share group g at the cut"):
        actions.start_share_group_at("k:9092", "g", "orders", {0: 1})
    answer["raise"] = ConnectionFailed("Kafka at k:9092: connection refused")
    with pytest.raises(CutoverError, match="connection refused") as info:
        actions.start_share_group_at("k:9092", "g", "orders", {0: 1})
    assert info.value.transient
