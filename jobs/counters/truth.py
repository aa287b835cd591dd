"""The truth row: one counter row's running sums, as the aggregation sends them to the hold and
the sink. Its columns, key and types, and the marker row, are defined here and nowhere else
(``TruthHold.java`` receives the types from ``field_types``)."""

from __future__ import annotations

from pyflink.table import DataTypes, Schema
from pyflink.table.types import BigIntType, IntType, VarCharType

from connectors.counter_rows import GIFTS, TOTALS, WINDOWS, RowKey, Values
from connectors.events import GIFT

# the truth query's columns in order (aggregate/sql.TRUTH_SQL selects them so); the sink reads a
# truth row by position
FIELDS = ("room_id", "wstart", "kind", "gift_id", "likes", "gift_count", "gift_value",
          "events", "duplicates", "late_events", "max_ts")
(ROOM, WSTART, KIND, GIFT_ID, LIKES, GIFT_COUNT, GIFT_VALUE, EVENTS, DUPLICATES,
 LATE, MAX_TS) = range(len(FIELDS))

# the key (first in FIELDS); the sums are BIGINT
KEY_TYPES = {"room_id": DataTypes.BIGINT().not_null(),
             "wstart": DataTypes.BIGINT().not_null(),
             "kind": DataTypes.STRING().not_null(),
             "gift_id": DataTypes.INT().not_null()}
assert FIELDS[:len(KEY_TYPES)] == tuple(KEY_TYPES), "key fields first"
assert FIELDS[-1] == "max_ts", "the hold reads max_ts last"

# room_id of the barrier marker row the hold sends before each checkpoint barrier (a DELETE
# row of -1 and ''); room ids of events are positive
MARKER_ROOM = -1


def schema() -> Schema:
    """The truth rows' table schema. A function, not a constant: building it needs the Java
    gateway, which the driver has and a Python worker (which imports this module) has not."""
    b = Schema.new_builder()
    for name in FIELDS:
        b = b.column(name, KEY_TYPES.get(name, DataTypes.BIGINT()))
    return b.primary_key(*KEY_TYPES).build()


def field_types() -> str:
    """The fields' types as the hold reads them: L (BIGINT), I (INT), S (STRING)."""
    letters = {BigIntType: "L", IntType: "I", VarCharType: "S"}
    return "".join(letters[type(KEY_TYPES.get(name, DataTypes.BIGINT()))] for name in FIELDS)


def truth_of(v) -> tuple[RowKey, Values] | None:
    """The counter row and its truth, from the values of one truth row (a sequence in FIELDS
    order; None: no counter row). Keys a table does not have read as wstart -1, kind '' and
    gift_id -1 (aggregate/sql.GROUPING_ROWS_VIEW_SQL)."""
    room = v[ROOM]
    if v[WSTART] != -1:
        return (WINDOWS, room, v[WSTART]), (v[LIKES], v[GIFT_COUNT], v[GIFT_VALUE])
    kind = v[KIND]
    if kind == "":
        return (TOTALS, room, 0), (v[LIKES], v[GIFT_COUNT], v[GIFT_VALUE], v[EVENTS],
                                   v[DUPLICATES])
    if kind == GIFT:
        return (GIFTS, room, v[GIFT_ID]), (v[GIFT_COUNT], v[GIFT_VALUE])
    return None
