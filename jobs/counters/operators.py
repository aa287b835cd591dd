"""The counting job's Python operators: decode/validate (stateless, per event) and the
Cassandra sink (keyed by room, per changed counter row). Logic lives in ``logic.py``."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time

from pyflink.common import Row, Types
from pyflink.common.types import RowKind
from pyflink.datastream import KeyedProcessFunction, OutputTag, ProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor

from connectors.avro_codec import DecodeError, SchemaRegistry
from jobs.counters.logic import (
    GIFT,
    GIFTS,
    LIKE,
    TOTALS,
    WINDOWS,
    Invalid,
    RowKey,
    Values,
    behind,
    plan_write,
    validate,
)
from jobs.counters.settings import Settings

log = logging.getLogger(__name__)

DLQ_TAG = OutputTag("dlq", Types.STRING())

EVENT_FIELDS = ["kind", "event_id", "room_id", "gift_id", "likes", "gift_count", "gift_value",
                "ts"]
EVENT_TYPE = Types.ROW_NAMED(EVENT_FIELDS, [
    Types.STRING(), Types.STRING(), Types.LONG(), Types.INT(), Types.LONG(), Types.LONG(),
    Types.LONG(), Types.LONG()])


def _millis(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    if hasattr(value, "to_epoch_milli"):  # pyflink's Instant (TIMESTAMP_LTZ)
        return int(value.to_epoch_milli())
    return int(value)


def dlq_record(reason: str, row: Row) -> str:
    """The dead-letter message: why, where it came from, and the original bytes."""
    key = row["key"]
    return json.dumps({
        "reason": reason,
        "topic": row["topic"],
        "partition": row["partition"],
        "offset": row["offset"],
        "kafka_timestamp": _millis(row["kts"]),
        "key": base64.b64encode(key).decode() if key is not None else None,
        "value": base64.b64encode(row["value"]).decode() if row["value"] is not None else None,
    }, sort_keys=True)


class DecodeAndValidate(ProcessFunction):
    """Kafka record -> event row, or a dead-letter record (side output) with the reason.

    Never raises for bad input: whatever a producer sends, the job keeps running.
    """

    def __init__(self, likes_topic: str, gifts_topic: str) -> None:
        self.kind_of_topic = {likes_topic: LIKE, gifts_topic: GIFT}

    def open(self, ctx: RuntimeContext) -> None:
        self.registry = SchemaRegistry()
        metrics = ctx.get_metrics_group()
        self.events_in = metrics.counter("events_in")
        self.dlq_records = metrics.counter("dlq_records")

    def process_element(self, row: Row, ctx: ProcessFunction.Context):
        self.events_in.inc()
        kts = _millis(row["kts"])
        # the "1 hour ahead" clock: broker append time when the topic records it (the same
        # verdict on a replay), else this job's clock
        now = kts if row["ts_type"] == "LogAppendTime" and kts else int(time.time() * 1000)
        try:
            name, rec = self.registry.decode(row["value"])
            result = validate(name, rec, now)
        except DecodeError as exc:
            result = Invalid(str(exc))
        except Exception as exc:  # a record that decodes to something validate cannot read
            result = Invalid(f"unreadable record: {type(exc).__name__}: {exc}")
        if not isinstance(result, Invalid) and result.kind != self.kind_of_topic.get(row["topic"]):
            result = Invalid(f"{result.kind} event on topic {row['topic']}")
        if isinstance(result, Invalid):
            self.dlq_records.inc()
            yield DLQ_TAG, dlq_record(result.reason, row)
            return
        yield Row(result.kind, result.event_id, result.room_id, result.gift_id, result.likes,
                  result.gift_count, result.gift_value, result.ts)


def truth_of(row: Row) -> tuple[RowKey, Values] | None:
    """The counter row and its truth, from one row of the job's truth query (None: no row)."""
    room = row["room_id"]
    if row["wstart"] is None and row["kind"] is None:
        return (TOTALS, room, 0), (row["likes"], row["gift_count"], row["gift_value"],
                                   row["events"], row["duplicates"])
    if row["wstart"] is not None:
        return (WINDOWS, room, row["wstart"]), (row["likes"], row["gift_count"],
                                                row["gift_value"])
    if row["kind"] == GIFT:
        return (GIFTS, room, row["gift_id"]), (row["gift_count"], row["gift_value"])
    return None  # the (room, kind, gift_id) grouping of likes: nothing to store


class CounterSink(KeyedProcessFunction):
    """Brings each counter row in Cassandra to its truth, exactly once (see logic.py).

    Keyed by room. The latest truth of each row not yet written is kept in keyed state and
    written at the next flush (a processing-time timer), so nothing is lost when a write
    fails or the job restarts. What Cassandra holds is remembered only in memory: after a
    (re)start and after a write with unknown outcome it is re-read, ``settle_ms`` later.
    """

    APPLIED_CACHE_ROWS = 2_000_000

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def open(self, ctx: RuntimeContext) -> None:
        from cassandra.cluster import Cluster

        from connectors.cassandra_sink import CounterStore, connect_cluster

        self.cluster: Cluster = connect_cluster(self.s.cassandra_hosts, self.s.cassandra_port)
        self.store = CounterStore(self.cluster.connect(), self.s.keyspace)
        self.pending = ctx.get_map_state(MapStateDescriptor(
            "pending", Types.STRING(), Types.PICKLED_BYTE_ARRAY()))
        self.applied: dict[RowKey, Values] = {}
        # writes of an earlier attempt may still land for a moment: read only after that
        self.read_not_before = self._now() + self.s.settle_ms
        m = ctx.get_metrics_group()
        self.m_rows_written = m.counter("sink_rows_written")
        self.m_window_results = m.counter("window_results")
        self.m_batches = m.counter("sink_writes")
        self.m_ambiguous = m.counter("sink_ambiguous_writes")
        self.m_behind = m.counter("sink_rows_waiting_for_replay")
        self.m_rereads = m.counter("sink_rows_read")
        self.m_duplicates = m.counter("duplicates_dropped")
        self.m_counted = m.counter("events_counted")
        self.m_late = m.counter("late_events")
        self.m_latency = m.distribution("sink_write_latency_ms")
        self.late_seen: dict[int, int] = {}

    def close(self) -> None:
        if getattr(self, "cluster", None) is not None:
            self.cluster.shutdown()

    @staticmethod
    def _now() -> int:
        return int(time.time() * 1000)

    def _next_flush(self, now: int) -> int:
        return (now // self.s.flush_ms + 1) * self.s.flush_ms

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        self._fold(row, ctx)
        return ()  # the sink emits nothing downstream

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        self._flush(ctx)
        return ()

    def _fold(self, row: Row, ctx: KeyedProcessFunction.Context) -> None:
        if row.get_row_kind() in (RowKind.UPDATE_BEFORE, RowKind.DELETE):
            return
        item = truth_of(row)
        if item is None:
            return
        key, truth = item
        if key[0] == TOTALS:
            late = row["late_events"]
            self.m_late.inc(max(0, late - self.late_seen.get(key[1], late if late else 0)))
            self.late_seen[key[1]] = late
        self.pending.put(f"{key[0]}:{key[2]}", truth)
        ctx.timer_service().register_processing_time_timer(
            self._next_flush(ctx.timer_service().current_processing_time()))

    def _flush(self, ctx: KeyedProcessFunction.OnTimerContext) -> None:
        room = ctx.get_current_key()
        items = {}
        for k, truth in self.pending.items():
            table, sub = k.split(":")
            items[(table, room, int(sub))] = tuple(truth)
        if not items:
            return
        now = self._now()
        unknown = [r for r in items if r not in self.applied]
        if unknown:
            if now < self.read_not_before:
                ctx.timer_service().register_processing_time_timer(self.read_not_before)
                return
            try:
                self.applied.update(self.store.read(unknown))
                self.m_rereads.inc(len(unknown))
            except Exception as exc:  # Cassandra unreachable: keep the truth, try again
                log.warning("room %s: reading %d rows failed (%s); retrying", room,
                            len(unknown), exc)
                ctx.timer_service().register_processing_time_timer(now + self.s.settle_ms)
                return
        writes, done = [], []
        for r, truth in items.items():
            applied = self.applied[r]
            w = plan_write(r, truth, applied)
            if w is not None:
                writes.append(w)
            elif behind(truth, applied):
                self.m_behind.inc()  # a replay has not caught up with Cassandra yet
            else:
                done.append(r)
        retry_at = None
        if writes:
            from connectors.cassandra_sink import AmbiguousWrite
            t0 = time.monotonic()
            try:
                self.store.write(writes)
                ok = writes
            except AmbiguousWrite as exc:
                log.warning("room %s: %s; re-reading after %d ms", room, exc, self.s.settle_ms)
                self.m_ambiguous.inc(len(exc.rows))
                doubtful = set(exc.rows)
                for r in doubtful:
                    self.applied.pop(r, None)
                ok = [w for w in writes if w.row not in doubtful]
                self.read_not_before = self._now() + self.s.settle_ms
                retry_at = self.read_not_before
            self.m_latency.update(int((time.monotonic() - t0) * 1000))
            self.m_batches.inc()
            for w in ok:
                self.applied[w.row] = items[w.row]
                done.append(w.row)
                self.m_rows_written.inc()
                if w.row[0] == WINDOWS:
                    self.m_window_results.inc()
                elif w.row[0] == TOTALS:
                    self.m_counted.inc(w.increment[3])
                    self.m_duplicates.inc(w.increment[4])
        for r in done:
            # remove only if the truth did not change meanwhile (it cannot within one call)
            self.pending.remove(f"{r[0]}:{r[2]}")
        if len(done) < len(items):
            ctx.timer_service().register_processing_time_timer(
                retry_at or self._next_flush(self._now()))
        if len(self.applied) > self.APPLIED_CACHE_ROWS:
            self.applied.clear()  # forgetting is safe: rows are re-read before the next write
