"""Names a user types (ablation, preset, variant), checked against the valid ones."""

from __future__ import annotations


class UnknownName(ValueError):
    """A name the user typed that is not one of the valid ones; the message lists them."""


def pick(kind: str, name: str, valid: list[str]) -> str:
    if name not in valid:
        raise UnknownName(f"unknown {kind} '{name}'; valid {kind}s: {', '.join(valid)}")
    return name
