"""Pure logic of the smoke pipeline: what it does to each record. No pyflink here."""

from __future__ import annotations

MARK = "smoke:"


def mark(value: str) -> str:
    """The output of one input record: the value with a prefix, so the output is recognisable."""
    return MARK + value
