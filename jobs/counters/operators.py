"""The counting job's Python operators: decode/validate (stateless, a batch of events at a
time) and the Cassandra sink (per changed counter row). Logic lives in ``logic.py``."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable

from pyflink.common import Row, Types
from pyflink.common.types import RowKind
from pyflink.datastream import ProcessFunction, RuntimeContext
from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from connectors.counter_rows import GIFTS, TOTALS, WINDOWS, RowKey, Values
from connectors.events import GIFT
from jobs.counters.settings import Settings

log = logging.getLogger(__name__)


# the sink's gauges (running totals since the sink started, summed over subtasks in Flink's UI)
SINK_METRICS = ("events_counted", "duplicates_dropped", "window_results", "sink_rows_written",
                "sink_writes", "sink_ambiguous_rows", "sink_rows_waiting_for_replay",
                "sink_rows_read", "sink_failures", "sink_last_round_ms",
                "persistence_delay_ms")

EVENT_FIELDS = ["kind", "event_id", "room_id", "gift_id", "likes", "gift_count", "gift_value",
                "ts", "late"]
EVENT_TYPE = Types.ROW_NAMED(EVENT_FIELDS, [
    Types.STRING(), Types.STRING(), Types.LONG(), Types.INT(), Types.LONG(), Types.LONG(),
    Types.LONG(), Types.LONG(), Types.INT()])
# the decode step's result per Kafka record (decode.DECODED_FIELDS): a dead letter, or an event
DECODED_TYPE = DataTypes.ROW([
    DataTypes.FIELD("letter", DataTypes.STRING()),
    DataTypes.FIELD("kind", DataTypes.STRING()),
    DataTypes.FIELD("event_id", DataTypes.STRING()),
    DataTypes.FIELD("room_id", DataTypes.BIGINT()),
    DataTypes.FIELD("gift_id", DataTypes.INT()),
    DataTypes.FIELD("likes", DataTypes.BIGINT()),
    DataTypes.FIELD("gift_count", DataTypes.BIGINT()),
    DataTypes.FIELD("gift_value", DataTypes.BIGINT()),
    DataTypes.FIELD("ts", DataTypes.BIGINT()),
    DataTypes.FIELD("late", DataTypes.INT())])


class DecodeEvents(ScalarFunction):
    """The decode step: a vectorized (pandas) Python function in the job's SQL plan. Flink
    hands it a batch of Kafka records as Arrow columns; each becomes an event or a dead letter
    with its reason (``decode.Decoder``). Never raises for bad input: whatever a producer
    sends, the job keeps running. The event's ``late`` is 1 when it is
    ``watermark_delay_ms`` behind the newest valid event this subtask has read
    (``logic.Lateness``; the ``late_events`` metric)."""

    def __init__(self, likes_topic: str, gifts_topic: str, watermark_delay_ms: int) -> None:
        self.topics = (likes_topic, gifts_topic)
        self.watermark_delay_ms = watermark_delay_ms

    def open(self, function_context: FunctionContext) -> None:
        from jobs.counters.decode import Decoder

        _exit_with_taskmanager()
        self.decoder = Decoder(*self.topics, self.watermark_delay_ms)
        metrics = function_context.get_metric_group()
        self.events_in = metrics.counter("events_in")
        self.dlq_records = metrics.counter("dlq_records")

    def eval(self, value, topic, kts, ts_type, key, partition, offset):
        import pandas as pd

        from jobs.counters.decode import epoch_ms

        out = self.decoder.decode(
            value.tolist(), topic.tolist(), epoch_ms(kts),
            (ts_type == "LogAppendTime").tolist(), key.tolist(),
            [int(p) for p in partition], [int(o) for o in offset], int(time.time() * 1000))
        self.events_in.inc(len(value))
        invalid = out.invalid
        if invalid:
            self.dlq_records.inc(invalid)
        return pd.DataFrame(out.columns())


def decode_events(likes_topic: str, gifts_topic: str, watermark_delay_ms: int):
    """The registered function: ``decode_events(value, topic, kts, ts_type, key, partition,
    offset)`` -> a DECODED_TYPE row."""
    return udf(DecodeEvents(likes_topic, gifts_topic, watermark_delay_ms),
               result_type=DECODED_TYPE, func_type="pandas")


# the truth query's columns in order (pipeline.TRUTH_SCHEMA is built from them); the sink
# reads a truth row by position
TRUTH_FIELDS = ("room_id", "wstart", "kind", "gift_id", "likes", "gift_count", "gift_value",
                "events", "duplicates", "late_events", "max_ts")
(_ROOM, _WSTART, _KIND, _GIFT_ID, _LIKES, _GIFT_COUNT, _GIFT_VALUE, _EVENTS, _DUPLICATES,
 _LATE, _MAX_TS) = range(len(TRUTH_FIELDS))


def truth_of(v) -> tuple[RowKey, Values] | None:
    """The counter row and its truth, from the values of one row of the job's truth query
    (a sequence in ``pipeline.TRUTH_SCHEMA`` order; None: no counter row).

    Keys a table does not have read as wstart -1, kind '' and gift_id -1
    (pipeline.GROUPING_ROWS_VIEW_SQL)."""
    room = v[_ROOM]
    if v[_WSTART] != -1:
        return (WINDOWS, room, v[_WSTART]), (v[_LIKES], v[_GIFT_COUNT], v[_GIFT_VALUE])
    kind = v[_KIND]
    if kind == "":
        return (TOTALS, room, 0), (v[_LIKES], v[_GIFT_COUNT], v[_GIFT_VALUE], v[_EVENTS],
                                   v[_DUPLICATES])
    if kind == GIFT:
        return (GIFTS, room, v[_GIFT_ID]), (v[_GIFT_COUNT], v[_GIFT_VALUE])
    return None


# truths the sink collects, while its writer is busy, before handing them over at once
HAND_OFF_ROWS = 512

_WATCHDOG: list[threading.Thread] = []


def _ppid_of(pid: int) -> int | None:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _exit_with_taskmanager() -> None:
    """End this Python worker as soon as its TaskManager is gone.

    The worker is started by ``pyflink-udf-runner.sh``, a child of the TaskManager's JVM.
    When that JVM dies (kill -9, OOM killer) nothing stops the worker: it would live on as
    an orphan and could still write to Cassandra while the restarted job reads what is there,
    the one order the sink's exactly-once argument cannot allow. A thread watches the
    runner's parent and exits the process within 0.2 s of it changing (no-op on Windows or
    when the worker is not started that way).
    """
    if _WATCHDOG:
        return
    runner = os.getppid()
    taskmanager = _ppid_of(runner)
    if taskmanager is None or taskmanager <= 1:
        return

    def watch() -> None:
        while True:
            time.sleep(0.2)
            if _ppid_of(runner) != taskmanager:
                # no logging here: Beam's log handler deadlocks once its TaskManager is gone,
                # and a logging call would wait on its lock forever (the harness found
                # workers stuck exactly there)
                os.write(2, f"TaskManager (PID {taskmanager}) is gone: Python worker "
                            f"{os.getpid()} exits\n".encode())
                os._exit(70)

    t = threading.Thread(target=watch, name="exit-with-taskmanager", daemon=True)
    t.start()
    _WATCHDOG.append(t)


_BUNDLE_END: list = []


def _on_bundle_end(callback) -> None:
    """Run ``callback`` at the end of every bundle of this Python worker.

    PyFlink has no public hook for it, and the sink needs one: Flink finishes the current
    bundle (``prepareSnapshotPreBarrier``) before a checkpoint barrier passes a Python
    operator, so draining writes there means a checkpoint never covers an unwritten truth.
    ``Operation.finish`` is what PyFlink calls at the end of each bundle (apache-flink is
    pinned; tests/integration fail loudly if this stops being true: the sink then never
    writes a row). Every Python operation of the worker ends its bundles through it, on
    the worker's threads, so a callback must check that the bundle ending is its own.
    """
    from pyflink.fn_execution.datastream.process import operations

    if not getattr(operations.Operation, "_live_counters_bundle_hook", False):
        original = operations.Operation.finish

        def finish(self):
            for cb in list(_BUNDLE_END):
                cb()
            original(self)

        operations.Operation.finish = finish
        operations.Operation._live_counters_bundle_hook = True
    _BUNDLE_END.append(callback)


def _off_bundle_end(callback) -> None:
    if callback in _BUNDLE_END:
        _BUNDLE_END.remove(callback)


class _ForgetOnHostChange:
    """A cassandra-driver host listener: a node that went down or came back may have lost
    acknowledged writes, so the sink reads its rows again (``ConvergingWriter.forget``)."""

    def __init__(self, writer) -> None:
        self.writer = writer

    def on_down(self, host) -> None:
        log.warning("sink: Cassandra node %s down: re-reading rows before writing", host)
        self.writer.forget()

    def on_up(self, host) -> None:
        log.warning("sink: Cassandra node %s up: re-reading rows before writing", host)
        self.writer.forget()

    def on_add(self, host) -> None:
        pass

    def on_remove(self, host) -> None:
        self.writer.forget()


class LeaseKeeper:
    """Keeps the keyspace's writer lease (``connectors.writer_lease``) for this job while the
    sink runs: renewed at open and every ``RENEW_S`` on a thread of its own, released at
    close. ``check()`` raises LeaseLost once another job holds the lease; ``confirm()``
    (the writer calls it before every write) also makes sure the last confirmed renewal is
    fresh (``FRESH_S``), renewing first if it is not: a sink that could not reach Cassandra
    for a while must not write on a lease that may have expired and been taken meanwhile.
    A renewal that fails for another reason than LeaseLost (Cassandra down) is retried.
    With a ``fence`` (``SinkFence``, taken by the caller for ``instance``) a renewal renews
    both, and one is confirmed only when both are: an attempt a newer attempt of its subtask
    fenced out stops writing (``FenceLost``, a LeaseLost) at its next write.
    """

    def __init__(self, lease, owner: str, clock: Callable[[], float] = time.monotonic,
                 renew_every_s: float | None = None, fence=None,
                 instance: str | None = None) -> None:
        from connectors.writer_lease import RENEW_S

        self.lease, self.owner, self.clock = lease, owner, clock
        self.fence, self.instance = fence, instance
        self.lost: Exception | None = None
        self.confirmed_at: float | None = None  # when the last confirmed renewal was sent
        self._stop = threading.Event()
        self._renew()
        self.check()  # another job holds it: fail at open, before any write
        self._thread = None
        if renew_every_s != 0:
            self._thread = threading.Thread(target=self._run, args=(renew_every_s or RENEW_S,),
                                            daemon=True, name="writer-lease")
            self._thread.start()

    def _renew(self) -> None:
        from connectors.writer_lease import LeaseLost

        sent = self.clock()
        try:
            self.lease.renew(self.owner)
            if self.fence is not None:
                self.fence.renew(self.instance)
        except LeaseLost as exc:
            log.error("sink: %s", exc)
            self.lost = exc
        except Exception as exc:  # noqa: BLE001 - Cassandra unreachable: try again later
            log.warning("sink: renewing the writer lease failed: %s: %s",
                        type(exc).__name__, exc)
        else:
            self.confirmed_at = max(self.confirmed_at or sent, sent)

    def _run(self, every_s: float) -> None:
        while self.lost is None and not self._stop.wait(every_s):
            self._renew()

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost

    def fresh(self) -> bool:
        from connectors.writer_lease import FRESH_S

        return self.confirmed_at is not None and self.clock() - self.confirmed_at <= FRESH_S

    def confirm(self) -> None:
        """Before a write: LeaseLost if another job holds the lease, LeaseUnconfirmed (the
        writer retries) if no renewal within ``FRESH_S`` was confirmed and renewing now
        fails too."""
        from connectors.writer_lease import FRESH_S, LeaseUnconfirmed

        self.check()
        if self.fresh():
            return
        self._renew()
        self.check()
        if not self.fresh():
            raise LeaseUnconfirmed(
                f"the writer lease was last confirmed more than {FRESH_S} s ago and cannot "
                "be renewed now: not writing until it is")

    def stop(self, release_fence: bool = False) -> None:
        """Stop renewing and release the lease; the fence only when ``release_fence`` (no
        write of this attempt can still land: otherwise the next attempt waits it out)."""
        self._stop.set()
        if self.lost is None:
            try:
                self.lease.release(self.owner)
                if self.fence is not None and release_fence:
                    self.fence.release(self.instance)
            except Exception as exc:  # noqa: BLE001 - it expires by itself
                log.warning("sink: releasing the writer lease failed: %s", exc)


class CounterSink(ProcessFunction):
    """Brings each counter row in Cassandra to its truth, exactly once.

    Reads forward from the aggregation (subtask i from subtask i), in a task of its own: the
    aggregation is partitioned by the counter row's key, so each row has one writer. No state
    and no timers. Truths are handed to a
    writer thread (``BackgroundWriter``) that writes continuously, so Cassandra is never idle
    while Python waits for the next bundle, and a row that changes again while a write round
    runs is written once with its newest truth. Every truth received is written before the
    bundle ends (see ``jobs.counters.sink`` for the order of operations, ``logic.py`` for why
    it is exactly-once).
    """

    def __init__(self, settings: Settings, owner: str) -> None:
        self.s = settings
        self.owner = owner  # of the keyspace's writer lease: this run of the job

    def open(self, ctx: RuntimeContext) -> None:
        from connectors.cassandra_sink import CounterStore, connect_cluster
        from connectors.writer_lease import SinkFence, WriterLease, new_instance
        from jobs.counters.sink import BackgroundWriter, ConvergingWriter

        _exit_with_taskmanager()
        self.cluster = connect_cluster(self.s.cassandra_hosts, self.s.cassandra_port)
        session = self.cluster.connect()
        # One writing attempt per subtask: take this subtask's fence from the attempt before
        # (a cancelled task's worker may live on, blocked in a read), and wait out the last
        # write it may still send before reading a row (connectors.writer_lease).
        instance = new_instance()
        index, n = ctx.get_index_of_this_subtask(), ctx.get_number_of_parallel_subtasks()
        fence = SinkFence(session, self.s.keyspace, f"{self.owner}/{index}-of-{n}")
        previous, wait_s = fence.take(instance)
        log.warning("sink %d/%d attempt %d (%s) took its fence%s", index, n,
                    ctx.get_attempt_number(), instance,
                    f" from {previous}; waiting {wait_s:.1f} s for its last writes to land"
                    if previous else "")
        self.lease = LeaseKeeper(WriterLease(session, self.s.keyspace), self.owner,
                                 fence=fence, instance=instance)
        if wait_s > 0:
            time.sleep(wait_s)  # the lease and the fence are renewed meanwhile
        store = CounterStore(session, self.s.keyspace)
        m = ctx.get_metrics_group()
        self.m_late = m.counter("late_events")
        # What the writer thread did, as gauges of running totals since this sink started:
        # PyFlink reads gauges at the end of each bundle, on the bundle's thread (a counter
        # incremented on another thread is lost, and one incremented at the end of a bundle
        # was seen to be lost too when bundles end on different threads).
        self.totals = dict.fromkeys(SINK_METRICS, 0)
        for name in SINK_METRICS:
            m.gauge(name, functools.partial(self.totals.__getitem__, name))
        self.writer = ConvergingWriter(store, self.s.settle_ms, on_written=self._written,
                                       before_write=self.lease.confirm)
        self.cluster.register_listener(_ForgetOnHostChange(self.writer))
        self.background = BackgroundWriter(self.writer, on_round=self._round_done)
        self.late_seen: dict[int, int] = {}
        # truths received and not yet handed to the writer (the newest per row)
        self._truths: dict[RowKey, Values] = {}
        self._truths_ts = 0
        # the thread running this operator's current bundle: other operations of the worker
        # end their bundles on other threads, and must not drain (or race) this sink
        self._bundle_thread: int | None = None
        _on_bundle_end(self._bundle_end)

    def close(self) -> None:
        # No drain here: truths not yet written belong to input after the last checkpoint,
        # which a restart replays; and a drain could block a cancel while Cassandra is down.
        _off_bundle_end(self._bundle_end)
        quiet = False
        if getattr(self, "background", None) is not None:
            quiet = self.background.stop(wait_s=5.0) and self.writer.settled()
        if getattr(self, "lease", None) is not None:
            self.lease.stop(release_fence=quiet)
        if getattr(self, "cluster", None) is not None:
            self.cluster.shutdown()

    def _bundle_end(self) -> None:
        if threading.get_ident() == self._bundle_thread:
            self._hand_off()
            self.background.drain()

    def _hand_off(self) -> None:
        self.lease.check()
        if self._truths:
            self.background.offer_many(self._truths, self._truths_ts)
            self._truths, self._truths_ts = {}, 0

    def process_element(self, row: Row, ctx: ProcessFunction.Context):
        self._bundle_thread = threading.get_ident()
        if row.get_row_kind() not in (RowKind.UPDATE_BEFORE, RowKind.DELETE):
            values = row[:]
            item = truth_of(values)
            if item is not None:
                key, truth = item
                if key[0] == TOTALS:
                    late = values[_LATE]
                    self.m_late.inc(max(0, late - self.late_seen.get(key[1], 0)))
                    self.late_seen[key[1]] = late
                self._truths[key] = truth
                if values[_MAX_TS] > self._truths_ts:
                    self._truths_ts = values[_MAX_TS]
                # Truths go to the writer in batches (one lock and wake-up for many rows):
                # at once while it idles, so a few truths are written without delay; while
                # it writes, they collect (it takes them after its round, or at the bundle's
                # end, which hands over what is left before waiting for the writes).
                if len(self._truths) >= HAND_OFF_ROWS or self.background.idle:
                    self._hand_off()
        return ()  # the sink emits nothing downstream

    def _written(self, w) -> None:
        """After each confirmed row write (on the writer thread)."""
        if w.row[0] == WINDOWS:
            self.totals["window_results"] += 1
        elif w.row[0] == TOTALS:
            self.totals["events_counted"] += w.increment[3]
            self.totals["duplicates_dropped"] += w.increment[4]

    def _round_done(self, seconds: float) -> None:
        """After each write round (on the writer thread)."""
        st, t = self.writer.stats, self.totals
        t["sink_rows_written"], t["sink_writes"] = st.rows_written, st.writes
        t["sink_ambiguous_rows"], t["sink_rows_waiting_for_replay"] = st.ambiguous, st.behind
        t["sink_rows_read"], t["sink_failures"] = st.rows_read, st.failures
        t["sink_last_round_ms"] = int(seconds * 1000)
        if self.background.round_event_ts:
            # how old the newest event a round wrote was when the round was confirmed: the
            # design documents' "persistence delay" (event time from the producer's clock)
            t["persistence_delay_ms"] = int(time.time() * 1000) - self.background.round_event_ts
