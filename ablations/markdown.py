"""Markdown tables for the reports: the one format every report, table and benchmark writes."""

from __future__ import annotations

import math


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def count_cell(value: float) -> str:
    """A number of seeds or rounds; '–' where none applies (NaN, or no spread to plan from)."""
    return f"{int(value):,}" if math.isfinite(value) else "–"
