"""The sink's arithmetic: what to add to a counter row so that Cassandra holds its truth.
Pure logic; why it is exactly-once is docs/exactly-once.md."""

from __future__ import annotations

from connectors.counter_rows import RowKey, Values, Write


def plan_write(row: RowKey, truth: Values, applied: Values) -> Write | None:
    """What to add to ``row`` so that Cassandra holds ``truth``: None when it already does,
    or when it holds more than the truth in some column (a replay that has not caught up yet:
    writing now would make a counter go down)."""
    inc = tuple(t - a for t, a in zip(truth, applied, strict=True))
    if any(i < 0 for i in inc) or not any(inc):
        return None
    return Write(row, inc)


def behind(truth: Values, applied: Values) -> bool:
    """True when Cassandra holds more than the truth in some column (wait for the replay)."""
    return any(t < a for t, a in zip(truth, applied, strict=True))
