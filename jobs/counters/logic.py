"""Pure logic of the counting job: dead letters, lateness, and the sink's arithmetic.

No pyflink and no I/O here; ``decode.py`` and ``counter_sink.py`` use them in the job's
Python functions and ``converging_writer.py`` performs the reads and writes this module
plans. What makes an event valid is the event contract (``connectors/events.py``); the rows
it counts in are ``connectors/counter_rows.py``.

Exactly-once into counter tables (the argument the sink relies on)
------------------------------------------------------------------
Counter increments are not idempotent, so the sink never sends "the events since last
time". For every counter row it writes, Flink state holds the row's *truth*: the sums of every
valid, first-seen event counted so far, kept by the job's SQL aggregations (in the JVM) and
restored exactly-once with each checkpoint. The sink
also knows what the row holds in Cassandra (*applied*) and sends ``delta = truth - applied``,
then sets ``applied = truth``. Whatever Cassandra held before, it holds the truth afterwards.

What is applied is only known for certain while nothing went wrong. It is forgotten, and read
from Cassandra before the next write to the row, (1) when the job (re)starts, because writes
made after the restored checkpoint are in Cassandra but not in the state, and (2) after a
write whose outcome is unknown (a timeout), once the write can no longer land. Cassandra
applies the rows of one partition in one batch atomically, so a read sees all of a write or
none of it. A row whose truth is behind what Cassandra already holds (the replay after a
restart has not caught up yet) is not written until it has caught up, so a counter never goes
down. No checkpoint covers a truth that is neither written nor held: a row's truth leaves the
aggregation once per change, and a restored job sends it again only if the row changes
again. So a truth is, at every checkpoint, either held in the hold's keyed state (a behind
job's truths wait there, ``HoldPolicy``; restored, they go to the sink again) or passed to
the sink, which waits for its writes before each checkpoint barrier passes it
(``pipeline.held`` marks where). One writer per row: the hold is keyed by the row and sink
subtask i reads only from hold subtask i (a forward edge), so each row belongs to one subtask.
"""

from __future__ import annotations

from typing import Any

from connectors.counter_rows import RowKey, Values, Write

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



# --- the truth hold: when a behind job's truths go to the sink ---------------------------

# the job is behind when the newest event time it has seen is older than this (ms): a backlog
# after an outage or a deploy, not the delay of a job that keeps up
BEHIND_MS = 5_000


class HoldPolicy:
    """When the truths of a behind job wait before they go to the sink.

    The job runs it in the JVM (``jvm/livecounters/HoldPolicy.java``, in ``TruthHold``, the
    operator in front of the sink); this class is its executable specification, and a
    differential test drives both with the same scripts.

    Live (the newest event time seen, ``max_ts`` of the truths, is at most ``behind_ms`` behind
    the clock): a truth goes to the sink at once. Behind (a backlog): truths are held, the
    newest per counter row, and released together in rounds, one every ``min(hold_ms,
    lag / 4)`` since the last: the further behind, the longer a round, because a row that
    changes meanwhile is written once; the nearer to live, the sooner counts show. A truth
    that arrives once the job is live again releases everything held. ``hold_ms`` 0: never
    hold. Held truths live in the operator's checkpointed state, so a round may span
    checkpoints (``Exactly-once`` above).
    """

    PASS, HOLD, RELEASE_AND_PASS = "pass", "hold", "release+pass"

    def __init__(self, hold_ms: int, behind_ms: int = BEHIND_MS) -> None:
        self.hold_ms, self.behind_ms = hold_ms, behind_ms
        self.newest = 0              # the newest event time seen (0: none yet)
        self.round_start: int | None = None  # when the current round began holding

    def lag_ms(self, now_ms: int) -> int:
        return now_ms - self.newest if self.newest else 0

    def behind(self, now_ms: int) -> bool:
        return self.hold_ms > 0 and self.newest > 0 and self.lag_ms(now_ms) > self.behind_ms

    def offer(self, now_ms: int, max_ts: int, holding: bool) -> str:
        """What to do with a truth covering events up to ``max_ts`` arriving at ``now_ms``;
        ``holding``: truths are held now."""
        self.newest = max(self.newest, max_ts)
        if self.behind(now_ms):
            if not holding:
                self.round_start = now_ms
            return self.HOLD
        return self.RELEASE_AND_PASS if holding else self.PASS

    def release_due(self, now_ms: int, holding: bool) -> bool:
        """Whether the held truths go now (asked periodically); a release ends the round."""
        if not holding:
            return False
        if not self.behind(now_ms):
            return True
        if self.round_start is None:  # held truths from before a restart: a round from now
            self.round_start = now_ms
        return now_ms - self.round_start >= min(self.hold_ms, self.lag_ms(now_ms) // 4)

    def released(self, now_ms: int) -> None:
        self.round_start = None


# --- the sink's arithmetic ----------------------------------------------------------------

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
