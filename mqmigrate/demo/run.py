"""``mqmigrate demo``: the whole migration story on the local sandbox, narrated.

One run seeds a small estate (a RabbitMQ work queue with a DLX and a TTL, an SQS queue with a
redrive policy), keeps a live producer (the dual-write SDK) and a legacy pika consumer busy,
assesses and plans, then lets the cutover engine (:class:`mqmigrate.cutover.runner.Cutover`)
run the generated playbook: provision → shadow → verify → consumers → producers → drain. The
producer and the consumers follow the switches the playbook's steps write (the dual-write mode
file; :mod:`mqmigrate.sdk.consumerswitch`), as a migrated service would. Every id the producer sent and every id a consumer processed is recorded, so the
summary (lost, duplicated, longest time without a consumer) is measured, not asserted.

The pure part (:func:`summarize`) is unit-tested; the rest drives real brokers.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mqmigrate.errors import ConnectionFailed, MqMigrateError, SandboxError, UsageError
from mqmigrate.redact import mask_uri
from mqmigrate.sources import open_source
from mqmigrate.sources.base import QueueSpec
from mqmigrate.demo.traffic import LegacyConsumer, TrafficRecord, Producer, Summary, summarize


#: how long each of the playbook's gates must hold in the demo (a real cutover: minutes)
DEMO_GATE_SECONDS = 2


# -- options ----------------------------------------------------------------------------------


@dataclass
class DemoOptions:
    messages: int = 3000
    rate: float = 200.0
    duration: float = 90.0
    out: Path | None = None
    keep: bool = False
    run_id: str | None = None


# -- narration --------------------------------------------------------------------------------


class Narrator:
    """One line per step on stderr; a live status line while waiting when on a terminal."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.live = console.is_terminal

    def step(self, phase: str, text: str) -> None:
        self.console.print(f"[bold cyan]{phase:>10}[/] {text}", highlight=False)

    def wait(
        self,
        what: str,
        until: Callable[[], bool],
        timeout: float,
        status: Callable[[], str] | None = None,
        interval: float = 0.2,
    ) -> bool:
        """Poll ``until`` for at most ``timeout`` seconds; a live status line on a terminal."""
        deadline = time.monotonic() + timeout
        if self.live and status is not None:
            with self.console.status(what) as st:
                while time.monotonic() < deadline:
                    if until():
                        return True
                    st.update(f"{what}: {status()}")
                    time.sleep(interval)
                return until()
        while time.monotonic() < deadline:
            if until():
                return True
            time.sleep(interval)
        return until()


# -- the estate ---------------------------------------------------------------------------------


@dataclass
class Estate:
    """Names of what the demo creates, so cleanup removes exactly that."""

    run_id: str
    queue: str
    exchange: str
    dlx: str
    dlq: str
    sqs_queue: str
    sqs_dlq: str
    topics: list[str] = field(default_factory=list)

    @classmethod
    def named(cls, run_id: str) -> "Estate":
        return cls(
            run_id=run_id,
            queue=f"demo.orders-{run_id}",
            exchange=f"demo.orders-{run_id}.x",
            dlx=f"demo.orders-{run_id}.dlx",
            dlq=f"demo.orders-{run_id}.dlq",
            sqs_queue=f"demo-payments-{run_id}",
            sqs_dlq=f"demo-payments-{run_id}-dlq",
        )

    def rabbitmq_queue(self) -> QueueSpec:
        """A work queue behind a direct exchange (so it can be shadowed), with a DLX and a
        TTL: 10 min, long enough that nothing expires during the demo, visible to assess."""
        return QueueSpec(
            self.queue,
            exchange=self.exchange,
            dead_letter_exchange=self.dlx,
            dead_letter_queue=self.dlq,
            message_ttl_ms=600_000,
        )

    def sqs_queue_spec(self) -> QueueSpec:
        """An SQS queue with a redrive policy to its DLQ (assessed and planned only)."""
        return QueueSpec(
            self.sqs_queue,
            dead_letter_queue=self.sqs_dlq,
            max_receives=4,
            visibility_timeout_s=45,
        )


def seed_rabbitmq(amqp_url: str, e: Estate) -> None:
    """The estate's RabbitMQ queue, declared through the RabbitMQ source adapter."""
    try:
        open_source(amqp_url, queue=e.queue).declare_queue(e.rabbitmq_queue())
    except MqMigrateError as exc:
        raise ConnectionFailed(exc.message, hint="run 'mqmigrate sandbox status'") from exc


def seed_sqs(sqs_uri: str, e: Estate) -> None:
    """The estate's SQS queue, declared through the SQS source adapter."""
    open_source(sqs_uri, queue=e.sqs_queue).declare_queue(e.sqs_queue_spec())


def queue_depth(amqp_url: str, queue: str) -> int | None:
    """The queue's ready messages (the management API's count; None when unknown)."""
    return open_source(amqp_url, queue=queue).queue_counts().ready.value


def cleanup(amqp_url: str, sqs_uri: str, bootstrap: str, e: Estate) -> list[str]:
    """Delete what the demo created; returns what could not be deleted (never raises)."""
    problems: list[str] = []
    try:
        rabbitmq = open_source(amqp_url, queue=e.queue)
        rabbitmq.remove_shadow()  # what the shadow bridge read, if the cutover left it
        problems += rabbitmq.delete_queue(e.rabbitmq_queue())
    except MqMigrateError as exc:
        problems.append(f"RabbitMQ: {exc.one_line()}")
    try:
        problems += open_source(sqs_uri, queue=e.sqs_queue).delete_queue(e.sqs_queue_spec())
    except MqMigrateError as exc:
        problems.append(f"SQS: {exc.one_line()}")
    if e.topics:
        try:
            from mqmigrate.kafka.admin import delete_topics

            delete_topics(bootstrap, e.topics)
        except Exception as exc:
            problems.append(f"Kafka topics: {type(exc).__name__}")
    return problems


# -- the orchestration --------------------------------------------------------------------------


class _Phases:
    """Wall time per phase."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._name: str | None = None
        self._t = 0.0

    def start(self, name: str) -> None:
        self.end()
        self._name, self._t = name, time.monotonic()

    def end(self) -> None:
        if self._name is not None:
            self.times[self._name] = self.times.get(self._name, 0.0) + time.monotonic() - self._t
            self._name = None


@dataclass
class _Endpoints:
    """Where the sandbox's brokers listen, as the demo's steps address them."""

    bootstrap: str
    amqp_url: str
    mgmt_uri: str
    sqs_uri: str


@dataclass
class _Actors:
    """What the demo starts and must stop however the run ends (the ``finally`` of run_demo)."""

    producer: Producer | None = None
    follower: Any = None
    playbook_path: Path | None = None
    wl_id: str | None = None


def run_demo(opts: DemoOptions, console: Any) -> Summary:
    """Run the whole story; returns the summary. Raises MqMigrateError on setup failures and
    KeyboardInterrupt on Ctrl-C, after stopping every actor and cleaning up either way."""
    _check_options(opts)
    say = Narrator(console)
    phases = _Phases()
    run_id = opts.run_id or time.strftime("%H%M%S") + "-" + uuid.uuid4().hex[:4]
    out_dir = opts.out or Path("mqmigrate-demo") / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    e = Estate.named(run_id)
    traffic = TrafficRecord()

    # 1. sandbox
    phases.start("sandbox")
    env = _start_sandbox(say, run_id, out_dir)

    actors = _Actors()
    verify: dict[str, Any] = {}
    try:
        # 2. seed
        phases.start("seed")
        _seed(say, env, e)
        topic = e.queue  # what plan derives from the queue name; checked against the playbook
        mode_file = out_dir / "dualwrite.mode"
        _write_mode(mode_file, "source-only")

        # 3. live traffic: the legacy consumer runs under the consumer switch the cutover
        # writes (mqmigrate.sdk.consumerswitch): the worker replaces it when the switch says so
        switch_file = out_dir / "consumers.json"
        target: dict[str, str] = {}  # the share group, known once the plan is written
        actors.follower = _start_consumers(say, traffic, env, e.queue, topic, switch_file, target)
        actors.producer = _start_producer(say, traffic, env, e, topic, mode_file, run_id, opts)

        # 4. assess, plan, provision
        phases.start("assess")
        assessment = _assess_and_tell(say, env, e)
        phases.start("plan")
        playbook_path, playbook, wl = _plan(say, assessment, env.bootstrap, e, topic, out_dir)
        actors.playbook_path, actors.wl_id = playbook_path, wl.id
        target["group"] = wl.target.consumer.group

        # 5-9. the migration: mqmigrate cutover runs the playbook plan wrote, phase by phase
        engine = _cutover_engine(say, playbook_path, playbook, wl, env, mode_file, switch_file)
        verify = _run_cutover(say, phases, engine, wl, actors.follower, traffic)
        _finish_producer(say, actors.producer, traffic, opts)
        _drain(say, traffic, env.amqp_url, e.queue)
        phases.end()
    except KeyboardInterrupt:
        say.step("interrupted", "Ctrl-C: stopping the producer, consumers and bridges")
        raise
    finally:
        _stop_actors(actors)
        _clean_up(say, opts.keep, env, e)
    return _write_summary(traffic, actors.follower, phases, verify, e, out_dir)


def _check_options(opts: DemoOptions) -> None:
    if opts.messages < 10:
        raise UsageError("--messages must be at least 10")
    if opts.rate <= 0 or opts.duration <= 0:
        raise UsageError("--rate and --duration must be positive")


def _start_sandbox(say: Narrator, run_id: str, out_dir: Path) -> _Endpoints:
    """Bring up Kafka, RabbitMQ and moto (reusing what runs) and say where they listen."""
    from mqmigrate.sandbox import manager
    from mqmigrate.sandbox.registry import services

    ctx = manager.context(log=lambda m: say.step("sandbox", m))
    names = ["kafka", "rabbitmq", "moto"]
    manager.up(ctx, names)
    kafka_svc, rabbit_svc, moto_svc = services(ctx, names)
    user, password = rabbit_svc.credentials()
    env = _Endpoints(
        bootstrap=kafka_svc.bootstrap,
        amqp_url=f"amqp://{user}:{password}@127.0.0.1:{rabbit_svc.port('amqp')}/%2f",
        mgmt_uri=f"rabbitmq+http://{user}:{password}@127.0.0.1:{rabbit_svc.port('management')}",
        sqs_uri=f"sqs+http://demo:demo@127.0.0.1:{moto_svc.port('http')}?region=us-east-1",
    )
    say.step(
        "sandbox",
        f"up: Kafka {env.bootstrap}, RabbitMQ {mask_uri(env.amqp_url)}, "
        f"SQS (moto) {moto_svc.endpoint_url}; run {run_id}, files in {out_dir}",
    )
    return env


def _seed(say: Narrator, env: _Endpoints, e: Estate) -> None:
    """Create the demo's RabbitMQ and SQS queues."""
    seed_rabbitmq(env.amqp_url, e)
    seed_sqs(env.sqs_uri, e)
    say.step(
        "seed",
        f"RabbitMQ queue {e.queue} (exchange {e.exchange}, DLX → {e.dlq}, "
        f"TTL 10 min); SQS queue {e.sqs_queue} (redrive to {e.sqs_dlq} after 4)",
    )


def _start_consumers(
    say: Narrator,
    traffic: TrafficRecord,
    env: _Endpoints,
    queue: str,
    topic: str,
    switch_file: Path,
    target: dict[str, str],
) -> Any:
    """Start the consumer side under the consumer switch: the legacy consumer now, the worker
    (on ``target["group"]``, filled in once the plan is written) when the switch says so.
    Returns the running :class:`~mqmigrate.sdk.consumerswitch.Follower`."""

    def start_legacy() -> LegacyConsumer:
        consumer = LegacyConsumer(traffic, env.amqp_url, queue)
        consumer.start()
        if not consumer.started.wait(15) or consumer.error:
            raise ConnectionFailed(
                "the legacy consumer could not start", hint=str(consumer.error or "timeout")
            )
        return consumer

    def start_worker(handle: Callable[[Any], Any]) -> Any:
        from mqmigrate.sdk.worker import Worker

        worker = Worker(
            env.bootstrap,
            topic,
            target["group"],
            handle,
            concurrency=1,
            max_poll_records=200,
            metrics=False,
            install_signal_handlers=False,
        )
        worker.start()
        return worker

    def handle(msg: Any) -> None:
        # idempotency by mq.source.id: an id processed before is skipped, and counted;
        # returning None ACCEPTs either way
        traffic.claim(msg.message_id, "worker")

    from mqmigrate.sdk import consumerswitch

    follower = consumerswitch.Follower(
        consumerswitch.ConsumerSwitch(switch_file, interval=0.1),
        handle,
        start_source=start_legacy,
        start_worker=start_worker,
    )
    follower.start()
    if (
        not say.wait(
            "starting the legacy consumer",
            lambda: follower.source is not None or follower.error is not None,
            20,
        )
        or follower.error
    ):
        raise _as_error(follower.error or TimeoutError("no start"), "legacy consumer")
    return follower


def _start_producer(
    say: Narrator,
    traffic: TrafficRecord,
    env: _Endpoints,
    e: Estate,
    topic: str,
    mode_file: Path,
    run_id: str,
    opts: DemoOptions,
) -> Producer:
    """Start the live producer (the dual-write SDK, following ``mode_file``)."""
    producer = Producer(
        traffic,
        env.amqp_url,
        e.exchange,
        e.queue,
        env.bootstrap,
        topic,
        mode_file,
        run_id,
        opts.messages,
        opts.rate,
        opts.duration,
    )
    producer.start()
    say.step(
        "traffic",
        f"producer (dual-write SDK, mode source-only, {opts.rate:g} msg/s, "
        f"{opts.messages} messages) and legacy consumer (pika, manual acks) "
        f"running; both follow the switches the cutover writes",
    )
    return producer


def _assess_and_tell(say: Narrator, env: _Endpoints, e: Estate) -> Any:
    """Assess the demo's queues and narrate the verdicts and the rules that fired."""
    assessment = _assess(env.mgmt_uri, env.sqs_uri, e)
    counts: dict[str, int] = {}
    for w in assessment.workloads:
        v = str(getattr(w.verdict, "value", w.verdict))
        counts[v] = counts.get(v, 0) + 1
    rules = sorted({f.rule for w in assessment.workloads for f in w.findings})
    say.step(
        "assess",
        f"{len(assessment.workloads)} workloads ("
        + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        + f"); rules fired: {', '.join(rules)}",
    )
    return assessment


def _plan(
    say: Narrator, assessment: Any, bootstrap: str, e: Estate, topic: str, out_dir: Path
) -> tuple[Path, Any, Any]:
    """Write the playbooks and load the one that migrates the demo's RabbitMQ queue; checks
    that it maps the queue to the producer's topic and records the topics to clean up.
    Returns (playbook path, playbook, the queue's workload)."""
    from mqmigrate.playbooks.plan import plan as make_plan, write_plan

    result = make_plan(assessment, name="demo", replication=1, bootstrap=bootstrap)
    written = write_plan(result, out_dir / "playbooks")
    playbook_path = written[0][0]
    from mqmigrate.playbooks import loader

    playbook = loader.load(playbook_path)
    wl = next((w for w in playbook.workloads if w.source.queue == e.queue), None)
    if wl is None:
        raise SandboxError(f"the plan has no workload for {e.queue}", hint=f"see {playbook_path}")
    if wl.target.topic != topic:
        raise SandboxError(
            f"the plan maps {e.queue} to topic {wl.target.topic}, the producer writes {topic}"
        )
    e.topics = [topic, f"{topic}.quarantine"] + ([wl.target.dlq.topic] if wl.target.dlq else [])
    sqs_wl = [w.id for w in playbook.workloads if w.source.queue == e.sqs_queue]
    say.step(
        "plan",
        f"wrote {playbook_path} ({len(playbook.workloads)} workloads: "
        f"{', '.join(w.id for w in playbook.workloads)}); the SQS workload "
        f"{'is' if sqs_wl else 'would be'} planned only here (the demo migrates "
        "the RabbitMQ one; an SQS queue's cutover is proven in "
        "tests/integration/test_zero_downtime.py)",
    )
    return playbook_path, playbook, wl


def _cutover_engine(
    say: Narrator,
    playbook_path: Path,
    playbook: Any,
    wl: Any,
    env: _Endpoints,
    mode_file: Path,
    switch_file: Path,
) -> Any:
    """The cutover engine for the playbook, its gates shortened to the demo's patience."""
    from mqmigrate.cutover.verifier import CutoverVerifier
    from mqmigrate.cutover.runner import Cutover
    from mqmigrate.cutover.source import resolve

    for phase in (p for _, p in wl.phases.present()):
        for gate in phase.gates:  # the demo's patience: the same gates, held 2 s
            gate.for_seconds = min(gate.for_seconds, DEMO_GATE_SECONDS)
    cred = wl.source.credentials.env if wl.source.credentials else None
    environ = {**os.environ, **({cred: env.amqp_url} if cred else {})}
    engine = Cutover(
        playbook_path,
        playbook,
        bootstrap=env.bootstrap,
        yes=True,
        interactive=False,
        verifier=CutoverVerifier(),
        poll_interval=1.0,
        gate_timeout=90.0,
        mode_spec=f"file:{mode_file}",
        consumer_switch=str(switch_file),
        access=lambda w: resolve(w, environ),
        out=lambda line: say.step("cutover", line.strip()),
    )
    say.step(
        "cutover",
        f"mqmigrate cutover runs {playbook_path.name} for {wl.id} "
        f"(gates held {DEMO_GATE_SECONDS} s instead of minutes)",
    )
    return engine


def _run_cutover(
    say: Narrator, phases: _Phases, engine: Any, wl: Any, follower: Any, traffic: TrafficRecord
) -> dict[str, Any]:
    """Run the cutover phase by phase, narrating verify's figures and the consumers' switch.
    Returns verify's figures (:func:`_verify_figures`)."""
    verify: dict[str, Any] = {}
    for name in ("provision", "shadow", "verify", "consumers", "producers", "drain"):
        phases.start(name)
        engine.run([wl.id], until=name)
        if follower.error is not None:
            raise _as_error(follower.error, "consumer side")
        if name == "verify":
            verify = _verify_figures(engine.dir, wl.id)
            say.step(
                "verify",
                f"{verify['expected']} ids settled by the shadow bridge: "
                f"missing {verify['missing']}, altered {verify['altered']}, "
                f"duplicated {verify['duplicated']}",
            )
        if name == "consumers":
            say.wait(
                "worker taking over",
                lambda: follower.source is None,
                30,
                status=lambda: "waiting for its first record",
            )
            say.step(
                "consumers",
                f"worker on share group {wl.target.consumer.group}; legacy consumer "
                f"stopped after {traffic.processed_by('legacy')} messages",
            )
    return verify


def _finish_producer(
    say: Narrator, producer: Producer, traffic: TrafficRecord, opts: DemoOptions
) -> None:
    """Let the producer send the rest (at most ``--duration``), then stop it."""
    producer_ok = say.wait(
        "producer finishing",
        lambda: producer.done,
        max(5.0, opts.duration),
        status=lambda: f"sent {traffic.counts()[0]}",
    )
    producer.stop_event.set()
    producer.join(15)
    if producer.error is not None:
        raise _as_error(producer.error, "producer")
    say.step(
        "producers",
        f"producer {'finished' if producer_ok else 'stopped at --duration'}: "
        + ", ".join(f"{n} {m}" for m, n in producer.by_mode.items()),
    )


def _drain(say: Narrator, traffic: TrafficRecord, amqp_url: str, queue: str) -> None:
    """Wait for the worker to process every id sent, and say what is left."""
    done = say.wait(
        "worker catching up",
        lambda: not traffic.unprocessed(),
        30,
        status=lambda: f"{len(traffic.unprocessed())} to go",
    )
    say.step(
        "drain",
        f"source depth {queue_depth(amqp_url, queue)}; "
        + (
            "worker processed everything"
            if done
            else f"[red]{len(traffic.unprocessed())} ids never processed[/]"
        ),
    )


def _stop_actors(actors: _Actors) -> None:
    """Stop the producer, the consumers and the cutover's bridge, whatever state they are in."""
    if actors.producer is not None:
        actors.producer.stop_event.set()
    if actors.follower is not None:
        try:
            actors.follower.shutdown()
        except Exception:
            pass
    if actors.playbook_path is not None and actors.wl_id is not None:
        from mqmigrate.cutover import bridgeproc
        from mqmigrate.cutover.runner import run_dir

        bridgeproc.stop(run_dir(actors.playbook_path), actors.wl_id, timeout=20)
    if actors.producer is not None:
        actors.producer.join(10)


def _clean_up(say: Narrator, keep: bool, env: _Endpoints, e: Estate) -> None:
    """Remove the demo's queues and topics, unless ``--keep``."""
    if keep:
        say.step("cleanup", f"kept queues and topics of run {e.run_id} (--keep)")
        return
    problems = cleanup(env.amqp_url, env.sqs_uri, env.bootstrap, e)
    say.step(
        "cleanup",
        "removed the demo's queues and topics"
        + ("; could not remove: " + "; ".join(problems) if problems else ""),
    )


def _write_summary(
    traffic: TrafficRecord,
    follower: Any,
    phases: _Phases,
    verify: dict[str, Any],
    e: Estate,
    out_dir: Path,
) -> Summary:
    """Summarize the run from the traffic record and write it to ``<out>/summary.json``."""
    summary = summarize(
        traffic.sent_at,
        traffic.events,
        skipped=traffic.skipped,
        shadow_skipped=follower.skipped if follower is not None else 0,
        phases=phases.times,
        verify=verify,
        run_id=e.run_id,
        topic=e.queue,
    )
    (out_dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


def _write_mode(path: Path, mode: str) -> None:
    # write then rename: a producer never reads a half-written file
    tmp = path.with_suffix(".tmp")
    tmp.write_text(mode + "\n")
    tmp.replace(path)


def _assess(mgmt_uri: str, sqs_uri: str, e: Estate) -> Any:
    """The live assessment of the demo's queues only (each source filtered by its prefix)."""
    from mqmigrate.assessment.model import KafkaCapabilities
    from mqmigrate.inventory.model import Estate as InventoryEstate
    from mqmigrate.inventory.readers import read_source
    from mqmigrate.playbooks.plan import from_estate, origin_label

    sources = read_source(mgmt_uri, prefix=f"demo.orders-{e.run_id}") + read_source(
        sqs_uri, prefix=f"demo-payments-{e.run_id}"
    )
    return from_estate(
        InventoryEstate(sources=sources),
        KafkaCapabilities.parse("4.4"),
        origin=origin_label([mgmt_uri, sqs_uri]),
    )


def _verify_figures(cutover_dir: Path, workload: str) -> dict[str, Any]:
    """The verify step's counts (``<run dir>/<workload>.verify.json``) and how many distinct
    ids the shadow bridge had settled (its verify ledger)."""
    from mqmigrate.cutover.bridgeproc import ledger_path
    from mqmigrate.verify.ledger import read_ledger

    try:
        counts = json.loads((cutover_dir / f"{workload}.verify.json").read_text())
    except (OSError, ValueError):
        counts = {}
    try:
        expected = len({sid for sid, _ in read_ledger(ledger_path(cutover_dir, workload))})
    except MqMigrateError:
        expected = 0
    return {
        "expected": expected,
        "missing": counts.get("missing"),
        "altered": counts.get("altered"),
        "duplicated": counts.get("duplicated"),
    }


def _as_error(exc: BaseException, what: str) -> MqMigrateError:
    if isinstance(exc, MqMigrateError):
        return exc
    return ConnectionFailed(f"the {what} failed: {type(exc).__name__}: {exc}")
