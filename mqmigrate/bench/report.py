"""Side-by-side results: table, JSON and a self-contained HTML chart."""

from __future__ import annotations

import html
import platform
from typing import Sequence

from mqmigrate.bench.model import RunResult, Workload
from mqmigrate.bench.stats import summarize


def result_dict(result: RunResult) -> dict:
    return {
        "system": result.system,
        "published": result.published,
        "confirmed": result.confirmed,
        "received": result.received,
        "unique": result.unique,
        "lost": result.lost,
        "duplicates": result.duplicates,
        "redelivered": result.redelivered,
        "seconds": round(result.seconds, 3),
        "publish_seconds": round(result.publish_seconds, 3),
        "throughput_per_s": round(result.throughput, 1),
        "latency_ms": {k: round(v, 3) for k, v in summarize(result.latencies_ms).items()},
        "notes": result.notes,
    }


def comparison(workload: Workload, baseline: RunResult, candidate: RunResult) -> dict:
    """The JSON document: both runs and candidate ÷ baseline ratios."""
    base, cand = result_dict(baseline), result_dict(candidate)

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    return {
        "schema": "mqmigrate.bench/v1",
        "workload": workload.to_dict(),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
        },
        "runs": [base, cand],
        "ratio": {
            "throughput": ratio(cand["throughput_per_s"], base["throughput_per_s"]),
            **{
                f"latency_{k}": ratio(cand["latency_ms"][k], base["latency_ms"][k])
                for k in ("p50", "p90", "p99", "p99.9", "max")
            },
        },
    }


def render_table(doc: dict, console) -> None:
    from rich.table import Table

    base, cand = doc["runs"]
    table = Table(title=f"mqmigrate bench — {doc['workload']['name']}")
    table.add_column("metric")
    table.add_column(base["system"], justify="right")
    table.add_column(cand["system"], justify="right")
    table.add_column("ratio", justify="right")
    rows = [("throughput msg/s", "throughput_per_s", "throughput")]
    for key in ("p50", "p90", "p99", "p99.9", "max"):
        rows.append((f"latency {key} ms", ("latency_ms", key), f"latency_{key}"))
    for label, path, ratio_key in rows:

        def pick(run, path=path):
            return run[path[0]][path[1]] if isinstance(path, tuple) else run[path]

        ratio = doc["ratio"].get(ratio_key)
        table.add_row(
            label,
            f"{pick(base):,.1f}",
            f"{pick(cand):,.1f}",
            "" if ratio is None else f"{ratio:.2f}×",
        )
    for label, key in (
        ("published", "published"),
        ("confirmed by the broker", "confirmed"),
        ("delivered (unique)", "unique"),
        ("lost", "lost"),
        ("duplicates", "duplicates"),
        ("redelivered", "redelivered"),
    ):
        table.add_row(label, str(base[key]), str(cand[key]), "")
    console.print(table)
    for run in doc["runs"]:
        for note in run["notes"]:
            console.print(f"[yellow]{run['system']}: {note}[/]")


def _polyline(
    points: Sequence[tuple[float, float]],
    x_max: float,
    y_max: float,
    width: int,
    height: int,
    colour: str,
) -> str:
    if not points or not x_max or not y_max:
        return ""
    coords = " ".join(
        f"{40 + x / x_max * (width - 60):.1f},{height - 30 - y / y_max * (height - 50):.1f}"
        for x, y in points
    )
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'


def render_html(doc: dict, results: Sequence[RunResult]) -> str:
    """One self-contained page: latency distribution (CDF) and throughput over time."""
    colours = ["#d9480f", "#1c7ed6"]
    width, height = 640, 300
    cdf_lines, tl_lines, legend = [], [], []
    lat_max = max((max(r.latencies_ms) for r in results if r.latencies_ms), default=1.0)
    tl_x = max((len(r.timeline) for r in results), default=1)
    tl_y = max((max(c for _, c in r.timeline) for r in results if r.timeline), default=1)
    for colour, result in zip(colours, results):
        values = sorted(result.latencies_ms)
        step = max(1, len(values) // 400)
        points = [(values[i], (i + 1) / len(values)) for i in range(0, len(values), step)]
        if values:
            points.append((values[-1], 1.0))
        cdf_lines.append(_polyline(points, lat_max, 1.0, width, height, colour))
        tl_lines.append(
            _polyline([(s, c) for s, c in result.timeline], tl_x, tl_y, width, height, colour)
        )
        legend.append(f'<span style="color:{colour}">■ {html.escape(result.system)}</span>')

    def svg(title: str, body: str, x_label: str, y_label: str) -> str:
        return (
            f'<figure><figcaption>{title}</figcaption><svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{width}" height="{height}" role="img" aria-label="{title}">'
            f'<line x1="40" y1="{height - 30}" x2="{width - 20}" y2="{height - 30}" stroke="#888"/>'
            f'<line x1="40" y1="20" x2="40" y2="{height - 30}" stroke="#888"/>'
            f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">{x_label}</text>'
            f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" '
            f'text-anchor="middle">{y_label}</text>{body}</svg></figure>'
        )

    rows = "".join(
        f"<tr><td>{html.escape(r['system'])}</td><td>{r['throughput_per_s']:,.1f}</td>"
        + "".join(
            f"<td>{r['latency_ms'][k]:,.2f}</td>" for k in ("p50", "p90", "p99", "p99.9", "max")
        )
        + f"<td>{r['lost']}</td><td>{r['redelivered']}</td></tr>"
        for r in doc["runs"]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mqmigrate bench</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head><body>
<h1>mqmigrate bench — {html.escape(doc["workload"]["name"])}</h1>
<p>{" ".join(legend)} · throughput ratio {doc["ratio"]["throughput"]}</p>
<table><tr><th>system</th><th>msg/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th>
<th>p99.9 ms</th><th>max ms</th><th>lost</th><th>redelivered</th></tr>{rows}</table>
{svg("Latency distribution (CDF)", "".join(cdf_lines), f"latency ms (max {lat_max:,.1f})", "fraction")}
{svg("Throughput over time", "".join(tl_lines), "seconds", f"msg/s (max {tl_y:,})")}
</body></html>
"""
