"""The counter-row model: the counter tables, their columns, and the row an event counts in.

A row of a counter table is addressed as ``(table, room_id, sub_key)``; its values are a
tuple of the table's counter columns (``COLUMNS``). The Cassandra tables are defined in
``connectors/cassandra_schema.py``; the job's SQL aggregation (``jobs/counters/aggregate/sql.py``)
and the oracles of the tooling compute the same rows. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.events import GIFT, Event

DAY_MS = 86_400_000


def window_start(ts_ms: int, size_ms: int) -> int:
    """Start of the tumbling window (epoch millis) that holds ``ts_ms``."""
    return ts_ms - ts_ms % size_ms


def day_of(window_start_ms: int) -> int:
    """The day (days since the epoch, UTC) of a window: the time-series partition."""
    return window_start_ms // DAY_MS


TOTALS = "room_totals"
WINDOWS = "room_windows"
GIFTS = "room_gifts"

# Counter columns of each table, in the order values are kept. Only sums that a replay
# reproduces exactly belong here (whether an event is late depends on timing: a metric only).
COLUMNS = {
    TOTALS: ("likes", "gift_count", "gift_value", "events", "duplicates"),
    WINDOWS: ("likes", "gift_count", "gift_value"),
    GIFTS: ("gift_count", "gift_value"),
}

# A row of a counter table: (table, room_id, sub-key). The sub-key is 0 for room_totals,
# the window start (epoch millis) for room_windows and the gift id for room_gifts.
RowKey = tuple[str, int, int]
Values = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Write:
    row: RowKey
    increment: Values


def rows_of(event: Event, window_ms: int) -> list[tuple[RowKey, Values]]:
    """The counter rows one counted event adds to, and what it adds: its room's totals (one
    more event), its room's window of ``window_ms`` (the job's ``--window-ms``) and, for a
    gift, its room's row of that gift type. The one statement of these semantics in Python:
    the job computes the same rows in SQL (``jobs/counters/aggregate/sql.py``), and the tooling's
    oracles and peers use this."""
    room = event.room_id
    rows: list[tuple[RowKey, Values]] = [
        ((TOTALS, room, 0), (event.likes, event.gift_count, event.gift_value, 1, 0)),
        ((WINDOWS, room, window_start(event.ts, window_ms)),
         (event.likes, event.gift_count, event.gift_value)),
    ]
    if event.kind == GIFT:
        rows.append(((GIFTS, room, event.gift_id), (event.gift_count, event.gift_value)))
    return rows


DUPLICATE = (0, 0, 0, 0, 1)  # what a repeat of a counted event adds to its room's room_totals
