"""Property: whatever bytes a playbook file holds, the loader answers with a Playbook or an
mqmigrate error (exit 1 or 2), never another exception."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqmigrate.errors import ExitCode, MqMigrateError, PlaybookInvalid, PlaybookUnreadable
from mqmigrate.playbooks import loader
from mqmigrate.playbooks.render import render
from tests.playbook_examples import rabbitmq_work_queue
from tests.unit.test_playbook_loader import MINIMAL


def _examples(default: int) -> int:
    """FUZZ_EXAMPLES=N runs a longer search (e.g. before a release)."""
    return int(os.environ.get("FUZZ_EXAMPLES", default))


VALID = [MINIMAL, render(rabbitmq_work_queue())]

# fragments that stress YAML and the model: flow collections, anchors, tags, odd scalars
FRAGMENTS = [
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "&a ",
    "*a",
    "!!str ",
    "!!binary ",
    "? ",
    "|\n",
    ">-\n",
    "\t",
    '"',
    "'",
    "#",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "<<: *a\n",
    "~",
    "0x1F",
    "1e400",
    "2026-13-45",
    "-.inf",
    ".nan",
    "null",
    "yes",
    "\x00",
    "\ufeff",
    "é",
    "\r\n",
    "partitions: -1",
    "requires: [x]",
    "share.delivery.count.limit: 99",
    "action: nope",
    "id: Bad Id",
    "phases: []",
    "workloads: {}",
    "99999999999999999999",
    "pattern: prefixed",
    "role: dlq-write",
    "prefix: zz",
    "dlq: null",
    "acls: [{}]",
]


def check(text: str) -> None:
    try:
        loader.loads(text, "fuzz.yaml")
    except (PlaybookInvalid, PlaybookUnreadable) as exc:
        assert exc.exit_code in (ExitCode.NEGATIVE, ExitCode.USAGE)
        assert exc.one_line()  # printable in one line
    except MqMigrateError as exc:  # any other family member is still a clean answer
        assert exc.one_line()


yamlish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=30).map(
    "".join
)


@settings(max_examples=_examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish)
def test_random_yamlish_text(text):
    check(text)


@st.composite
def mutated(draw) -> str:
    lines = draw(st.sampled_from(VALID)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(
                ["delete", "duplicate", "insert", "replace-value", "indent", "truncate", "swap"]
            )
        )
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, draw(yamlish) + "\n")
        elif op == "replace-value" and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            lines[i] = (
                f"{head}: {draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)))}\n"
            )
        elif op == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t", "      "])) + lines[i].lstrip()
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


@settings(max_examples=_examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_of_a_valid_playbook(text):
    check(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_in_a_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_bytes(data)
    try:
        loader.load(path)
    except MqMigrateError as exc:
        assert exc.one_line()
