"""Bad input as data: the dead-letter record of a message the job cannot count, and the
lateness verdict of an event. Pure logic; the JVM decoder (``jvm/livecounters``) does the same,
held to ``spec.py`` by a differential test."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

DLQ_MAX_VALUE_BYTES = 65_536  # original bytes kept in a dead letter; the digest covers all


def dead_letter(reason: str, topic: str, partition: int, offset: int, kafka_ts: int | None,
                key: bytes | None, value: bytes | None) -> dict[str, Any]:
    """The dead-letter record of one bad message: why, where it came from, and its bytes.

    The original value is kept up to ``DLQ_MAX_VALUE_BYTES`` (a message over the dead-letter
    topic's size limit would stop the job); ``value_size`` and ``value_sha256`` always describe
    all of it, so a truncated letter still identifies its message.
    """
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
