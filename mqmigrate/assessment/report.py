"""Renderers for an assessment: ``table`` (rich), ``json``, ``markdown``, ``html``.

All renderers read the same :func:`mqmigrate.assessment.engine.document`; none sees the raw
inventory, so nothing the readers did not keep (passwords, hashes, credentials) can leak.
"""

from __future__ import annotations

import html
import json
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

_SEV_STYLE = {"blocker": "bold red", "warn": "yellow", "info": "cyan"}
_VERDICT_STYLE = {
    "share-group": "green",
    "share-group-with-changes": "yellow",
    "consumer-group": "magenta",
    "redesign": "red",
    "not-a-workload": "dim",
}
_VERDICT_COLOUR = {
    "share-group": "#2e7d32",
    "share-group-with-changes": "#f9a825",
    "consumer-group": "#8e24aa",
    "redesign": "#c62828",
}


def _evidence_text(evidence: dict[str, Any]) -> str:
    parts = []
    for k, v in evidence.items():
        if isinstance(v, (list, dict)):
            v = json.dumps(v, ensure_ascii=False)
        parts.append(f"{k}={'unknown' if v is None else v}")
    return "; ".join(parts)


def summary_line(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    v = s["verdicts"]
    f = s["findings"]
    return (
        f"{s['workloads']} workloads: {v['share-group']} share group, "
        f"{v['share-group-with-changes']} share group with changes, "
        f"{v['consumer-group']} consumer group, {v['redesign']} redesign — "
        f"{f['blocker']} blockers, {f['warn']} warnings, {f['info']} info, "
        f"{s['unknown']} unknown"
    )


def sources(doc: dict[str, Any]) -> list[str]:
    """One line per source the workloads came from: kind, name (which says the broker or file
    kind: ``artemis …``, ``ibmmq …``), endpoint when it is a URI, and its queue count."""
    seen: dict[tuple, int] = {}
    for w in doc["workloads"]:
        s = w["source"]
        key = (s["kind"], s["name"], s.get("endpoint") or "")
        seen[key] = seen.get(key, 0) + (1 if w.get("queue") is not None else 0)
    return [
        f"{kind}: {name}" + (f" ({endpoint})" if endpoint else "") + f" — {n} queues"
        for (kind, name, endpoint), n in seen.items()
    ]


def _target_brief(t: dict[str, Any] | None) -> str:
    if not t:
        return ""
    text = f"{t['mode']['value']} → topic {t['topic']['value']} ×{t['partitions']['value']}"
    if t.get("group"):
        text += f", group {t['group']['value']}"
    return text


def render_table(doc: dict[str, Any], console: Console) -> None:
    """Grouped by workload, coloured severities, a summary line at the end."""
    for w in doc["workloads"]:
        title = Text(w["id"], style="bold")
        title.append(f"  [{w['verdict']}]", style=_VERDICT_STYLE.get(w["verdict"], ""))
        brief = _target_brief(w.get("target"))
        table = Table(show_header=True, header_style="bold", expand=False, title_justify="left")
        for col in ("severity", "rule", "evidence", "remediation"):
            table.add_column(col, overflow="fold")
        for f in w["findings"]:
            sev = Text(f["severity"], style=_SEV_STYLE[f["severity"]])
            if f.get("status") == "unknown":
                sev = Text(f"{f['severity']} (unknown)", style="dim")
            table.add_row(sev, f["rule"], _evidence_text(f["evidence"]), f["remediation"])
        parts: list[Any] = [title]
        if brief:
            parts.append(Text("  " + brief, style="dim"))
        if w["findings"]:
            parts.append(table)
        console.print(Group(*parts))
        console.print()
    console.print(Text(summary_line(doc), style="bold"))


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict[str, Any]) -> str:
    lines = ["# mqmigrate assessment", "", summary_line(doc), "", "Sources:", ""]
    lines += [f"- {_md(s)}" for s in sources(doc)] + [""]
    lines += ["| verdict | workloads |", "|---|---|"]
    for v, n in doc["summary"]["verdicts"].items():
        lines.append(f"| {v} | {n} |")
    lines.append("")
    for w in doc["workloads"]:
        lines += [f"## `{w['id']}` — {w['verdict']}", ""]
        t = w.get("target")
        if t:
            lines.append("Target:")
            lines.append("")
            for key in ("mode", "topic", "partitions", "group", "key", "dlq_topic"):
                if t.get(key):
                    lines.append(f"- **{key}**: `{t[key]['value']}` — {_md(t[key]['reason'])}")
            for section in ("topic_configs", "group_configs"):
                for k, d in (t.get(section) or {}).items():
                    lines.append(f"- `{k}` = `{d['value']}` — {_md(d['reason'])}")
            lines.append("")
        if w["findings"]:
            lines += [
                "| severity | status | rule | evidence | mapping | remediation |",
                "|---|---|---|---|---|---|",
            ]
            for f in w["findings"]:
                lines.append(
                    f"| {f['severity']} | {f.get('status', 'fired')} | `{f['rule']}` | "
                    f"{_md(_evidence_text(f['evidence']))} | {_md(f['mapping'])} | "
                    f"{_md(f['remediation'])} |"
                )
            lines.append("")
    return "\n".join(lines) + "\n"


def _svg_chart(verdicts: dict[str, int]) -> str:
    """Inline SVG horizontal bar chart of workloads by verdict."""
    width, bar_h, gap, label_w = 560, 26, 10, 200
    total = max(verdicts.values() or [0]) or 1
    rows = []
    for i, (v, n) in enumerate(verdicts.items()):
        y = i * (bar_h + gap)
        w = int((width - label_w - 60) * n / total)
        rows.append(
            f'<text x="0" y="{y + 18}" font-size="14">{html.escape(v)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" '
            f'fill="{_VERDICT_COLOUR.get(v, "#777")}"><title>{html.escape(v)}: {n}</title></rect>'
            f'<text x="{label_w + w + 6}" y="{y + 18}" font-size="14">{n}</text>'
        )
    height = len(verdicts) * (bar_h + gap)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="workloads by verdict" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{"".join(rows)}</svg>'
    )


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;width:100%}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f3f3f3}.blocker{color:#c62828;font-weight:bold}.warn{color:#b26a00}
.info{color:#01579b}.unknown{color:#777;font-style:italic}code{font-size:.85rem}
h2{margin-top:2rem;font-size:1.1rem}.verdict{font-size:.85rem;padding:.1rem .4rem;border-radius:.3rem;color:#fff}
"""


def render_html(doc: dict[str, Any]) -> str:
    """One self-contained page: no scripts, no external resources."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>mqmigrate assessment</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>mqmigrate assessment</h1>",
        f'<p id="summary">{e(summary_line(doc))}</p>',
        '<ul id="sources">',
        *[f"<li>{e(s)}</li>" for s in sources(doc)],
        "</ul>",
        '<figure id="chart">',
        _svg_chart(doc["summary"]["verdicts"]),
        "<figcaption>Workloads by verdict</figcaption></figure>",
    ]
    for w in doc["workloads"]:
        colour = _VERDICT_COLOUR.get(w["verdict"], "#777")
        out.append(
            f'<section class="workload"><h2><code>{e(w["id"])}</code> '
            f'<span class="verdict" style="background:{colour}">{e(w["verdict"])}</span>'
            "</h2>"
        )
        t = w.get("target")
        if t:
            out.append("<ul>")
            for key in ("mode", "topic", "partitions", "group", "key", "dlq_topic"):
                if t.get(key):
                    out.append(
                        f"<li><b>{e(key)}</b>: <code>{e(str(t[key]['value']))}</code> — "
                        f"{e(t[key]['reason'])}</li>"
                    )
            for section in ("topic_configs", "group_configs"):
                for k, d in (t.get(section) or {}).items():
                    out.append(
                        f"<li><code>{e(k)}={e(str(d['value']))}</code> — {e(d['reason'])}</li>"
                    )
            out.append("</ul>")
        if w["findings"]:
            out.append(
                "<table><thead><tr><th>severity</th><th>rule</th><th>evidence</th>"
                "<th>mapping</th><th>remediation</th></tr></thead><tbody>"
            )
            for f in w["findings"]:
                cls = f["severity"] + (" unknown" if f.get("status") == "unknown" else "")
                status = " (unknown)" if f.get("status") == "unknown" else ""
                out.append(
                    f'<tr class="finding"><td class="{cls}">{e(f["severity"])}{status}'
                    f"</td><td><code>{e(f['rule'])}</code></td>"
                    f"<td>{e(_evidence_text(f['evidence']))}</td>"
                    f"<td>{e(f['mapping'])}</td><td>{e(f['remediation'])}</td></tr>"
                )
            out.append("</tbody></table>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
