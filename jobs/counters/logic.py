"""Pure logic of the counting job: validation, window keys, and the sink's arithmetic.

No pyflink and no I/O here; ``pipeline.py`` wires these into operators and the Cassandra
sink performs the reads and writes this module plans.

Exactly-once into counter tables (the argument the sink relies on)
------------------------------------------------------------------
Counter increments are not idempotent, so the sink never sends "the events since last
time". For every counter row it writes, Flink state holds the row's *truth*: the sums of every
valid, first-seen event counted so far, kept by the job's SQL aggregations (in the JVM) and
restored exactly-once with each checkpoint; the sink keeps the latest truth of each row it has
not written yet in its own keyed state. The sink
also knows what the row holds in Cassandra (*applied*) and sends ``delta = truth - applied``,
then sets ``applied = truth``. Whatever Cassandra held before, it holds the truth afterwards.

What is applied is only known for certain while nothing went wrong. It is forgotten, and read
from Cassandra before the next write to the row, (1) when the job (re)starts, because writes
made after the restored checkpoint are in Cassandra but not in the state, and (2) after a
write whose outcome is unknown (a timeout), once the write can no longer land. Cassandra
applies the rows of one partition in one batch atomically, so a read sees all of a write or
none of it. A row whose truth is behind what Cassandra already holds (the replay after a
restart has not caught up yet) is not written until it has caught up, so a counter never goes
down. One writer per row: the aggregation is partitioned by the row's key and sink subtask i
reads only from aggregation subtask i (a forward edge), so each row belongs to one subtask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LIKE = "like"
GIFT = "gift"

MIN_TS_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
MAX_AHEAD_MS = 3_600_000       # 1 hour
MAX_COUNT = 10_000
MAX_UNIT_VALUE = 1_000_000_000
MAX_EVENT_ID_LEN = 128     # a UUID is 32 (hex) or 36 characters
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Event:
    """A valid event, reduced to what is counted. ``gift_id`` is 0 for likes."""

    kind: str
    event_id: str
    room_id: int
    user_id: int
    gift_id: int
    likes: int
    gift_count: int
    gift_value: int
    ts: int


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str


def validate(record_name: str, rec: Mapping[str, Any], now_ms: int) -> Event | Invalid:
    """An Event, or the reason the record is invalid.

    ``now_ms`` is the job's clock for the "more than 1 hour ahead" rule: the broker's append
    time of the message where the topic records it, so the verdict is the same on a replay.
    """
    kind = LIKE if record_name.endswith("LikeEvent") else GIFT if record_name.endswith(
        "GiftEvent") else None
    if kind is None:
        return Invalid(f"unexpected record type {record_name}")
    if not rec["event_id"]:
        return Invalid("empty event_id")
    if len(rec["event_id"]) > MAX_EVENT_ID_LEN:
        return Invalid(f"event_id of {len(rec['event_id'])} characters > {MAX_EVENT_ID_LEN}")
    if rec["room_id"] <= 0:
        return Invalid(f"room_id {rec['room_id']} <= 0")
    if rec["user_id"] < 0:
        return Invalid(f"user_id {rec['user_id']} < 0")
    ts = rec["ts"]
    if ts < MIN_TS_MS:
        return Invalid(f"ts {ts} before 2020-01-01")
    if ts > now_ms + MAX_AHEAD_MS:
        return Invalid(f"ts {ts} more than 1 hour ahead of {now_ms}")
    if kind == LIKE:
        if not 1 <= rec["count"] <= MAX_COUNT:
            return Invalid(f"count {rec['count']} outside 1..{MAX_COUNT}")
        return Event(LIKE, rec["event_id"], rec["room_id"], rec["user_id"], 0,
                     rec["count"], 0, 0, ts)
    if not 1 <= rec["quantity"] <= MAX_COUNT:
        return Invalid(f"quantity {rec['quantity']} outside 1..{MAX_COUNT}")
    if not 0 <= rec["unit_value"] <= MAX_UNIT_VALUE:
        return Invalid(f"unit_value {rec['unit_value']} outside 0..{MAX_UNIT_VALUE}")
    return Event(GIFT, rec["event_id"], rec["room_id"], rec["user_id"], rec["gift_id"],
                 0, rec["quantity"], rec["quantity"] * rec["unit_value"], ts)


DLQ_MAX_VALUE_BYTES = 65_536  # original bytes kept in a dead letter; the digest covers all


def dead_letter(reason: str, topic: str, partition: int, offset: int, kafka_ts: int | None,
                key: bytes | None, value: bytes | None) -> dict[str, Any]:
    """The dead-letter record of one bad message: why, where it came from, and its bytes.

    The original value is kept up to ``DLQ_MAX_VALUE_BYTES`` (a message over the dead-letter
    topic's size limit would stop the job); ``value_size`` and ``value_sha256`` always describe
    all of it, so a truncated letter still identifies its message.
    """
    import base64
    import hashlib

    def b64(data: bytes | None) -> str | None:
        return base64.b64encode(data).decode() if data is not None else None

    kept = value[:DLQ_MAX_VALUE_BYTES] if value is not None else None
    return {
        "reason": reason[:1000],
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "kafka_timestamp": kafka_ts,
        "key": b64(key[:DLQ_MAX_VALUE_BYTES] if key is not None else None),
        "value": b64(kept),
        "value_size": len(value) if value is not None else None,
        "value_sha256": hashlib.sha256(value).hexdigest() if value is not None else None,
        "value_truncated": value is not None and len(kept) < len(value),
    }


def window_start(ts_ms: int, size_ms: int) -> int:
    """Start of the tumbling window (epoch millis) that holds ``ts_ms``."""
    return ts_ms - ts_ms % size_ms


def day_of(window_start_ms: int) -> int:
    """The day (days since the epoch, UTC) of a window: the time-series partition."""
    return window_start_ms // DAY_MS


class Lateness:
    """Whether an event is late: its time more than ``delay_ms`` behind the newest event time
    seen before it on the same input (a bounded-out-of-orderness watermark, advanced by every
    event instead of periodically). The job keeps one per decode subtask; it feeds only the
    ``late_events`` metric: late events are counted like any other, and the verdict is not
    kept across restarts (after one, nothing is late until a newer event has been read)."""

    __slots__ = ("delay_ms", "newest")

    def __init__(self, delay_ms: int) -> None:
        self.delay_ms = delay_ms
        self.newest: int | None = None

    def late(self, ts_ms: int) -> bool:
        if self.newest is None or ts_ms > self.newest:
            self.newest = ts_ms
            return False
        return ts_ms < self.newest - self.delay_ms


# --- the sink's rows and arithmetic -------------------------------------------------------

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
