"""``naming.unresolved``: a queue whose name the IaC file leaves to a variable or expression."""

from __future__ import annotations

from mqmigrate.assessment.rules.base import QueueContext, finding, rule
from mqmigrate.assessment.target import unresolved_parts


@rule("naming.unresolved")
def unresolved(ctx: QueueContext):
    parts = unresolved_parts(ctx.queue.name)
    if not parts or ctx.queue.type == "dead-letter":
        return
    yield finding(
        "naming.unresolved",
        "warn",
        {"name": ctx.queue.name, "unresolved": parts},
        "topic and group names are derived from the name; with parts unknown they are "
        "placeholders (never shared by two queues)",
        "resolve the names (the variables' values, the parameters file or the deployed names) "
        "and re-run assess, or set topic and group in the playbook before provision",
    )
