"""``cutover`` engine with fake actions and probes: order, requires, gates (wait, fail, unknown
fails), resume after a crash mid-phase, rollback order, dry run, confirmations, stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mqmigrate.cli import main
from mqmigrate.cutover import actions as real_actions
from mqmigrate.cutover.actions import ActionContext, ActionSpec
from mqmigrate.cutover.probes import DlqRateProbe, Measurement, parse_bridge_lag
from mqmigrate.cutover.runner import Cutover, run_dir
from mqmigrate.errors import CutoverInterrupted, ExitCode, GateFailed, StepNotConfirmed
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.model import Action
from mqmigrate.playbooks.state import state_path

PLAYBOOK = """\
apiVersion: mqmigrate/v1
kind: MigrationPlaybook
metadata: {name: unit}
kafka: {bootstrap: "127.0.0.1:9092"}
workloads:
  - id: orders
    source: {kind: rabbitmq, queue: orders, credentials: {env: RABBITMQ_URI}}
    target:
      topic: orders
      partitions: 1
      consumer: {type: share-group, group: orders}
      dlq: {topic: dlq.orders}
    strategy: shadow-then-drain
    phases:
      provision:
        steps: [{id: provision, action: provision.apply}]
      shadow:
        steps:
          # listed before the step it requires: requires decide the order
          - {id: shadow-remove-old, action: source.delete-shadow, requires: [shadow-bridge]}
          - {id: shadow-bridge, action: bridge.start, mode: shadow, requires: [provision]}
        gates: [{metric: bridge.lag, op: "<=", value: 10, for_seconds: 3}]
        rollback:
          - {id: shadow-bridge-stop, action: bridge.stop}
          - {id: shadow-remove, action: source.delete-shadow, requires: [shadow-bridge-stop]}
      verify:
        steps: [{id: verify, action: verify.run, requires: [shadow-bridge]}]
        gates: [{metric: verify.missing, op: "==", value: 0}]
      consumers:
        steps: [{id: switch-consumers, action: consumers.switch, requires: [verify]}]
        rollback: [{id: revert-consumers, action: consumers.revert}]
      producers:
        steps: [{id: kafka-only, action: producers.kafka-only, requires: [switch-consumers]}]
        rollback: [{id: revert-producers, action: producers.revert}]
"""

FORWARD = [
    "provision",
    "shadow-bridge",
    "shadow-remove-old",
    "verify",
    "switch-consumers",
    "kafka-only",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.01)


class FakeProbe:
    """Answers a scripted series of values (the last one repeats); None is unknown."""

    def __init__(self, *values: float | None):
        self.values = list(values)
        self.calls = 0

    def measure(self, workload) -> Measurement:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return Measurement(value, "fake") if value is not None else Measurement.unknown("fake down")


class Recorder:
    """Fake actions with the real ones' flags; ``fail_once`` makes a step die once."""

    def __init__(self, fail_once: set[str] = frozenset()):
        self.calls: list[str] = []
        self.fail_once = set(fail_once)

    def specs(self) -> dict[Action, ActionSpec]:
        def run(ctx: ActionContext) -> str:
            if ctx.step.id in self.fail_once:
                self.fail_once.discard(ctx.step.id)
                raise RuntimeError("process died mid-step")
            self.calls.append(ctx.step.id)
            return "ok"

        return {
            a: ActionSpec(run, s.mutating, s.human, s.instruction)
            for a, s in real_actions.ACTIONS.items()
        }


@pytest.fixture
def pb(tmp_path) -> Path:
    path = tmp_path / "unit.yaml"
    path.write_text(PLAYBOOK)
    return path


def engine(
    pb: Path, rec: Recorder, *, probes=None, clock=None, confirm=lambda q: True, **kw
) -> Cutover:
    clock = clock or FakeClock()
    probes = (
        probes
        if probes is not None
        else {"bridge.lag": FakeProbe(0), "verify.missing": FakeProbe(0)}
    )
    return Cutover(
        pb,
        loader.load(pb),
        probes=probes,
        actions=rec.specs(),
        confirm=confirm,
        poll_interval=1.0,
        gate_timeout=10.0,
        clock=clock,
        sleep=clock.sleep,
        out=lambda line: None,
        **kw,
    )


def stamped(pb: Path) -> list[str]:
    data = json.loads(state_path(pb).read_text())
    return [a["step"] for a in data["workloads"]["orders"]["applied"]]


def test_steps_run_in_phase_and_requires_order_once(pb):
    rec = Recorder()
    report = engine(pb, rec, yes=False).run()
    assert rec.calls == FORWARD  # shadow-bridge before the step listed first that requires it
    assert stamped(pb) == FORWARD
    assert report.gates == ["orders/shadow", "orders/verify"]
    again = Recorder()
    second = engine(pb, again).run()
    assert again.calls == [] and second.done == [] and len(second.skipped) == len(FORWARD)


def test_until_stops_after_that_phase_and_its_gates(pb):
    rec = Recorder()
    engine(pb, rec, yes=True).run(until="shadow")
    assert rec.calls == ["provision", "shadow-bridge", "shadow-remove-old"]
    assert stamped(pb) == rec.calls


def test_gate_waits_until_it_held_for_its_duration(pb):
    clock = FakeClock()
    lag = FakeProbe(500, 500, 5)
    engine(
        pb,
        Recorder(),
        probes={"bridge.lag": lag, "verify.missing": FakeProbe(0)},
        clock=clock,
        yes=True,
    ).run(until="shadow")
    # two failing polls, then it must hold for 3 s: polls at t=2,3,4,5 -> passes at t=5
    assert lag.calls == 6 and clock.now >= 5
    gates = json.loads((run_dir(pb) / "gates.json").read_text())["orders"]["shadow"]
    assert gates["passed"] is True and gates["results"][0]["observed"] == 5


def test_gate_that_never_holds_fails_with_the_reason_and_stops(pb):
    rec = Recorder()
    with pytest.raises(GateFailed) as info:
        engine(
            pb,
            rec,
            probes={"bridge.lag": FakeProbe(5, 500), "verify.missing": FakeProbe(0)},
            yes=True,
        ).run()
    assert info.value.exit_code == ExitCode.NEGATIVE
    assert "bridge.lag <= 10" in info.value.message and "observed 500" in info.value.message
    assert "verify" not in rec.calls  # the next phase did not start
    gates = json.loads((run_dir(pb) / "gates.json").read_text())["orders"]["shadow"]
    assert gates["passed"] is False


@pytest.mark.parametrize(
    "probes",
    [
        {"bridge.lag": FakeProbe(None), "verify.missing": FakeProbe(0)},  # probe cannot measure
        {"verify.missing": FakeProbe(0)},  # no probe for the metric at all
    ],
)
def test_unknown_value_fails_the_gate_never_passes_it(pb, probes):
    with pytest.raises(GateFailed) as info:
        engine(pb, Recorder(), probes=probes, yes=True).run()
    assert "observed unknown" in info.value.message


def test_resume_after_crash_mid_phase_reruns_only_the_unstamped_step(pb):
    crashing = Recorder(fail_once={"shadow-remove-old"})
    with pytest.raises(RuntimeError):
        engine(pb, crashing, yes=True).run()
    assert stamped(pb) == ["provision", "shadow-bridge"]
    resumed = Recorder()
    engine(pb, resumed).run()  # confirms each step (the fake person says yes)
    assert resumed.calls == FORWARD[2:]  # stamped steps not repeated, the interrupted one re-run
    assert stamped(pb) == FORWARD


def test_gates_of_a_finished_phase_are_checked_again_after_a_crash_during_the_wait(pb):
    with pytest.raises(GateFailed):
        engine(
            pb,
            Recorder(),
            probes={"bridge.lag": FakeProbe(500), "verify.missing": FakeProbe(0)},
            yes=True,
        ).run()
    rec, lag = Recorder(), FakeProbe(0)
    engine(pb, rec, probes={"bridge.lag": lag, "verify.missing": FakeProbe(0)}).run()
    assert lag.calls >= 1 and rec.calls == FORWARD[3:]


def test_rollback_runs_rollback_steps_newest_phase_first_and_unstamps(pb):
    engine(pb, Recorder()).run()
    rec, asked = Recorder(), []
    report = engine(pb, rec, yes=True, confirm=lambda q: asked.append(q) or True).rollback(
        to="provision"
    )
    assert rec.calls == [
        "revert-producers",
        "revert-consumers",
        "shadow-bridge-stop",
        "shadow-remove",
    ]
    assert len(report.done) == 4
    assert stamped(pb) == ["provision"]
    assert asked == [
        "[rollback] orders/revert-consumers: consumers.revert: move the consumers "
        "back to the source queue — done?"
    ]  # a person, even with --yes
    gates = json.loads((run_dir(pb) / "gates.json").read_text())["orders"]
    assert "shadow" not in gates and "verify" not in gates


def test_interrupted_rollback_does_not_repeat_its_done_steps(pb):
    engine(pb, Recorder()).run(until="shadow")
    with pytest.raises(RuntimeError):
        engine(pb, Recorder(fail_once={"shadow-remove"}), yes=True).rollback()
    assert "shadow-bridge-stop" in stamped(pb)
    rec = Recorder()
    engine(pb, rec, yes=True).rollback()
    assert rec.calls == ["shadow-remove"]
    assert stamped(pb) == []


def test_dry_run_changes_nothing(pb):
    rec, lines = Recorder(), []
    clock = FakeClock()
    cut = Cutover(
        pb,
        loader.load(pb),
        probes={},
        actions=rec.specs(),
        confirm=lambda q: pytest.fail("a dry run asks nothing"),
        dry_run=True,
        clock=clock,
        sleep=clock.sleep,
        out=lines.append,
    )
    report = cut.run()
    assert rec.calls == [] and [d.split("/")[1] for d in report.done] == FORWARD
    assert not state_path(pb).exists() and not run_dir(pb).exists()
    assert any(line.startswith("would wait for orders shadow gate bridge.lag") for line in lines)
    assert any("[asks a person]" in line for line in lines)


def test_mutating_steps_ask_unless_yes_and_a_no_changes_nothing(pb):
    rec, asked = Recorder(), []
    with pytest.raises(StepNotConfirmed) as info:
        engine(pb, rec, confirm=lambda q: asked.append(q) and False).run()
    assert info.value.exit_code == ExitCode.NEGATIVE
    assert asked == ["run orders/provision: provision.apply?"]
    assert rec.calls == [] and not state_path(pb).exists()


def test_yes_skips_automated_prompts_but_still_asks_a_person(pb):
    rec, asked = Recorder(), []
    engine(pb, rec, yes=True, confirm=lambda q: asked.append(q) or True).run()
    assert asked == [
        "orders/switch-consumers: consumers.switch: move the consumers to the "
        "Kafka group (deploy the worker, stop the old consumers) — done?"
    ]
    assert rec.calls == FORWARD


def test_yes_without_a_terminal_stops_at_a_human_step(pb):
    rec = Recorder()
    with pytest.raises(StepNotConfirmed) as info:
        engine(
            pb, rec, yes=True, interactive=False, confirm=lambda q: pytest.fail("nobody to ask")
        ).run()
    assert "switch-consumers: consumers.switch" in info.value.message
    assert "needs a person" in info.value.message
    assert rec.calls == FORWARD[:4] and stamped(pb) == FORWARD[:4]


def test_stop_request_ends_cleanly_after_the_current_step(pb):
    rec = Recorder()
    cut = engine(pb, rec, yes=True)
    original = cut.actions[Action.provision_apply].run

    def provision_then_sigterm(ctx):
        cut.request_stop()
        return original(ctx)

    cut.actions = {**cut.actions, Action.provision_apply: ActionSpec(provision_then_sigterm, True)}
    with pytest.raises(CutoverInterrupted) as info:
        cut.run()
    assert info.value.exit_code == ExitCode.INTERRUPTED
    assert rec.calls == ["provision"] and stamped(pb) == ["provision"]


def test_status_reports_done_pending_and_gates(pb, capsys):
    engine(pb, Recorder(), yes=True).run(until="shadow")
    assert main(["cutover", "status", str(pb), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)["workloads"]["orders"]
    assert data["done"] == FORWARD[:3]
    assert data["pending"] == FORWARD[3:]
    assert data["next"] == {"phase": "verify", "step": "verify"}
    shadow = next(p for p in data["phases"] if p["phase"] == "shadow")
    assert shadow["gates"]["passed"] is True


def test_cli_dry_run_exit_0_and_nothing_written(pb, capsys):
    assert main(["cutover", "run", str(pb), "--dry-run"]) == 0
    assert "would run orders/provision" in capsys.readouterr().err
    assert not state_path(pb).exists() and not run_dir(pb).exists()
    assert main(["cutover", "run", str(pb), "--until", "nosuch", "--dry-run"]) == 2


def test_producer_mode_actions_write_the_mode_file_atomically(pb, tmp_path):
    playbook = loader.load(pb)
    wl = playbook.workloads[0]
    step = next(s for _, s in wl.steps() if s.id == "kafka-only")
    ctx = ActionContext(
        playbook,
        tmp_path / "run",
        wl,
        step,
        "producers",
        None,
        f"file:{tmp_path}/{{workload}}.mode",
    )
    assert "kafka-only" in real_actions.producers_kafka_only(ctx)
    assert (tmp_path / "orders.mode").read_text() == "kafka-only\n"
    real_actions.producers_kafka_only(ctx)  # idempotent
    real_actions.producers_source_only(ctx)
    assert (tmp_path / "orders.mode").read_text() == "source-only\n"


def test_bridge_lag_from_metrics_text_and_unknown_without_backlog():
    text = (
        '# HELP x\nmqmigrate_bridge_in_flight{queue="q",topic="t"} 12.0\n'
        'mqmigrate_bridge_source_backlog{queue="q",topic="t"} 30.0\n'
    )
    assert parse_bridge_lag(text).value == 42
    no_backlog = parse_bridge_lag('mqmigrate_bridge_in_flight{queue="q"} 3.0\n')
    assert no_backlog.value is None and "backlog" in no_backlog.detail


def test_dlq_rate_from_end_offsets_over_a_window(pb):
    clock = FakeClock()
    offsets = iter([100, 110, 130])
    probe = DlqRateProbe(
        lambda: "k:9092",
        window=5,
        end_offsets=lambda b, t: next(offsets),
        clock=clock,
        sleep=clock.sleep,
    )
    wl = loader.load(pb).workloads[0]
    assert probe.measure(wl).value == pytest.approx(2.0)  # 10 records in the 5 s window
    clock.now += 10
    assert probe.measure(wl).value == pytest.approx(2.0)  # 20 records since the last poll
    missing = DlqRateProbe(
        lambda: "k:9092", end_offsets=lambda b, t: None, clock=clock, sleep=clock.sleep
    ).measure(wl)
    assert missing.value is None


def test_share_group_backlog_sums_lag_and_a_partition_without_lag_is_unknown(pb):
    from mqmigrate.cutover.probes import ShareGroupBacklogProbe, share_group_backlog
    from mqmigrate.errors import AuthenticationFailed
    from mqmigrate.kafka.protocol import ShareOffset

    offsets = {0: ShareOffset(0, 2), 1: ShareOffset(4, 5)}
    assert share_group_backlog(offsets).value == 7
    unknown = share_group_backlog({**offsets, 2: ShareOffset(None, None)})
    assert unknown.value is None and "partition 2" in unknown.detail
    assert share_group_backlog({}).value is None
    wl = loader.load(pb).workloads[0]
    calls = []
    probe = ShareGroupBacklogProbe(
        lambda: "k:9092", describe=lambda *args: calls.append(args) or offsets
    )
    assert probe.measure(wl).value == 7
    assert calls[0] == ("k:9092", "orders", wl.target.topic)
    never = ShareGroupBacklogProbe(lambda: "k:9092", describe=lambda *a: {}).measure(wl)
    assert never.value is None and "no offsets" in never.detail

    def refused(*args):
        raise AuthenticationFailed("Kafka at k:9092 refused the credentials")

    denied = ShareGroupBacklogProbe(lambda: "k:9092", describe=refused).measure(wl)
    assert denied.value is None and "refused the credentials" in denied.detail
    assert ShareGroupBacklogProbe(lambda: None).measure(wl).value is None


def test_verify_plugs_in_as_the_verifier_passed_down(pb, tmp_path):
    """The verifier the CLI or the demo passes in feeds verify.run and the verify.* gates;
    without one the gates are unknown (fail) and verify.run says it is not available."""
    from mqmigrate.cutover.probes import VerifyCounts, VerifyProbe

    wl = loader.load(pb).workloads[0]
    assert VerifyProbe("missing", None).measure(wl).value is None

    class Fake:
        def verify(self, workload):
            return VerifyCounts(missing=2, altered=0, duplicated=5, detail="fake verify")

    verifier = Fake()
    assert VerifyProbe("missing", verifier).measure(wl).value == 2
    step = next(s for _, s in wl.steps() if s.id == "verify")
    ctx = ActionContext(
        loader.load(pb), tmp_path / "run", wl, step, "verify", None, "file:x", verifier=verifier
    )
    assert real_actions.verify_run(ctx) == "verify: 2 missing, 0 altered, 5 duplicated"
    assert json.loads((tmp_path / "run" / "orders.verify.json").read_text())["duplicated"] == 5
    ctx.verifier = None
    with pytest.raises(Exception, match="not available"):
        real_actions.verify_run(ctx)


def test_fan_out_workloads_share_one_shadow_copy(tmp_path, monkeypatch):
    """Queues of one fan-out exchange write one topic: the second workload's shadow
    bridge.start finds the first one's bridge and starts none (no duplicate copies)."""
    from mqmigrate.cutover import bridgeproc

    path = tmp_path / "fanout.yaml"
    path.write_text(
        (Path(__file__).resolve().parents[2] / "playbooks" / "rabbitmq-fanout.yaml").read_text()
    )
    playbook = loader.load(path)
    first, second = playbook.workloads[:2]
    assert first.target.topic == second.target.topic
    info = bridgeproc.BridgeInfo(pid=4242, port=9999, mode="shadow", started_at="t")
    monkeypatch.setattr(bridgeproc, "running", lambda d, wl: info if wl == first.id else None)
    monkeypatch.setattr(
        bridgeproc, "start", lambda *a, **k: pytest.fail("a second shadow bridge was started")
    )
    step = next(s for _, s in second.steps() if s.action is Action.bridge_start)
    ctx = ActionContext(
        playbook,
        tmp_path / "run",
        second,
        step,
        "shadow",
        "k:9092",
        "file:x",
        access=lambda wl: pytest.fail("no source access needed"),
    )
    assert f"already made by workload '{first.id}'" in real_actions.bridge_start(ctx)


def test_artemis_depth_is_message_count_less_delivering(monkeypatch):
    """``source.depth`` / ``source.in-flight`` of an AMQP 1.0 source on Artemis: Artemis counts
    messages being delivered in MessageCount, so depth is the difference; a queue Jolokia does
    not know is unknown (never 0)."""
    from mqmigrate.cutover.probes import SourceDepthProbe
    from mqmigrate.cutover.source import SourceAccess
    from mqmigrate.errors import ConnectionFailed
    from mqmigrate.sources.amqp1 import artemis

    counts = {"q": {"MessageCount": 12, "DeliveringCount": 5}}
    seen = []

    class FakeManagement:
        def __init__(self, endpoint):
            seen.append((endpoint.http_base, endpoint.username, endpoint.password.reveal()))

        def queue_counts(self, queue, *attributes):
            if queue not in counts:
                raise ConnectionFailed("InstanceNotFoundException")
            return counts[queue]

        def close(self):
            pass

    monkeypatch.setattr(artemis, "ArtemisManagement", FakeManagement)
    access = SourceAccess("amqp1", "addr::q", "amqp1://u:p@h:61616", "http://h:8161")
    assert SourceDepthProbe("depth", lambda w: access).measure_access(access).value == 7
    assert SourceDepthProbe("in-flight", lambda w: access).measure_access(access).value == 5
    assert seen[0] == ("http://h:8161", "u", "p")
    gone = SourceAccess("amqp1", "other", "amqp1://u:p@h:61616", "http://h:8161")
    measured = SourceDepthProbe("depth", lambda w: gone).measure_access(gone)
    assert measured.value is None and "InstanceNotFound" in measured.detail
