"""Tables, percentiles and ratios for the benchmarks, and the one file they all write.

`docs/benchmarks.md` holds one section per benchmark script; each run replaces only its own.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"
Row = tuple[str, str, list[float]]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def cell(text: str) -> str:
    """Text made safe for a Markdown table cell (a `|` would split it)."""
    return text.replace("|", "\\|")


def table(rows: list[Row]) -> str:
    """A Markdown table of median, p90, p99 per row."""
    lines = [
        "| system | measure | runs | median ms | p90 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines.extend(
        f"| {cell(system)} | {cell(what)} | {len(v)} | {statistics.median(v):.1f} | {pct(v, 90):.1f} "
        f"| {pct(v, 99):.1f} |"
        for system, what, v in rows
        if v
    )
    return "\n".join(lines)


def ratios(rows: list[Row], pairs: list[tuple[tuple[str, str], tuple[str, str]]]) -> list[str]:
    """Median ratios of the comparisons the targets name (how many times faster we are)."""
    med = {(s, w): statistics.median(v) for s, w, v in rows if v and v[0] > 0}
    return [
        f"- {ours[1]} vs {theirs[0]} {theirs[1]}: {med[theirs] / med[ours]:.1f}× faster"
        for ours, theirs in pairs
        if ours in med and theirs in med
    ]


def write_section(title: str, intro: str, rows: list[Row], notes: list[str]) -> None:
    """Print a section and put it into docs/benchmarks.md, replacing the last run's."""
    body = (
        f"## {title}\n\n{intro} {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, one run.\n\n"
        f"{table(rows)}\n\n" + "\n".join(notes) + "\n"
    )
    print(body)
    text = REPORT.read_text() if REPORT.exists() else ""
    if not text.startswith("# Benchmarks"):
        text = (
            "# Benchmarks\n\nWritten by `scripts/bench`; each section by one script in `bench/`.\n"
        )
    sections = re.split(r"(?m)^(?=## )", text)
    head, rest = sections[0].rstrip() + "\n\n", [s.rstrip() + "\n\n" for s in sections[1:]]
    mine = [i for i, s in enumerate(rest) if s.startswith(f"## {title}\n")]
    if mine:
        rest[mine[0]] = body + "\n"
    else:
        rest.append(body + "\n")
    REPORT.write_text((head + "".join(rest)).rstrip() + "\n")
