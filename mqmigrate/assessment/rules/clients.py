"""``client.share-consumer``: consumer libraries without a production share consumer."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, SourceContext, finding, rule

MAPPING = (
    "KafkaShareConsumer is GA only in the Java client (late 2026); librdkafka-based "
    "clients (confluent-kafka Python/Go/.NET/JS) are preview; most others have none"
)
REMEDIATION = (
    "move these consumers to the mqmigrate Python worker SDK or the Java client; "
    "keep them on a consumer group until their library ships a share consumer"
)


def language(product: str | None, platform: str | None) -> str:
    """A consumer's language from AMQP client_properties (product/platform)."""
    text = f"{product or ''} {platform or ''}".lower()
    for needle, lang in (
        ("java", "Java"),
        ("python", "Python"),
        ("pika", "Python"),
        ("kombu", "Python"),
        ("node", "Node.js"),
        ("amqplib", "Node.js"),
        (".net", ".NET"),
        ("dotnet", ".NET"),
        ("golang", "Go"),
        ("go ", "Go"),
        ("amqp091-go", "Go"),
        ("ruby", "Ruby"),
        ("bunny", "Ruby"),
        ("php", "PHP"),
        ("erlang", "Erlang"),
        ("elixir", "Elixir"),
        ("rust", "Rust"),
        ("lapin", "Rust"),
    ):
        if needle in text:
            return lang
    return "unknown"


@rule("client.share-consumer")
def clients(ctx: QueueContext):
    consumers = ctx.queue.consumers or []
    seen = {}
    for c in consumers:
        if c.client is None:
            continue
        lang = language(c.client.product, c.client.platform)
        if lang == "Java":
            continue  # KafkaShareConsumer is GA
        lib = " ".join(x for x in (c.client.product, c.client.version) if x) or "unknown"
        seen.setdefault(lang, set()).add(lib)
    if seen:
        yield finding(
            "client.share-consumer",
            "warn",
            {
                "languages": sorted(seen),
                "libraries": sorted(x for libs in seen.values() for x in libs),
            },
            MAPPING,
            REMEDIATION,
        )


@rule("client.share-consumer", scope="source")
def offline(ctx: SourceContext):
    if not ctx.source.live and ctx.source.queues:
        yield finding(
            "client.share-consumer",
            "info",
            {"consumer client libraries": None},
            MAPPING,
            "an export shows no consumers: assess the live broker (or ask "
            "the teams) for the client libraries in use",
            unknown=True,
        )
