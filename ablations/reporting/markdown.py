"""Markdown tables for the reports: the one format every report, table and benchmark writes."""

from __future__ import annotations

import math


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def count_cell(value: float) -> str:
    """A number of seeds or rounds; '–' where none applies (NaN, or no spread to plan from)."""
    return f"{int(value):,}" if math.isfinite(value) else "–"


SURVEY_BLOCK = ("<!-- survey:start -->", "<!-- survey:end -->")  # README.md, results/README.md: models/survey.py's rules


def fill_block(text: str, block: tuple[str, str], body: str) -> str:
    """text with what lies between the block's two markers replaced by body; unchanged if it lacks either marker."""
    start, end = block
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"
