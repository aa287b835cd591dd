"""The counting job's sink: a PyFlink function that brings each counter row in Cassandra to
the truth the aggregation sends, exactly once (docs/exactly-once.md). The order of reads and
writes is ``writer.py``, the arithmetic ``plan.py``, the Cassandra side
``connectors/cassandra_counters.py``."""

from __future__ import annotations

import functools
import logging
import threading
import time

from pyflink.common import Row
from pyflink.common.types import RowKind
from pyflink.datastream import ProcessFunction, RuntimeContext

from connectors.cassandra_counters import CounterStore, connect_cluster
from connectors.counter_rows import TOTALS, WINDOWS, RowKey, Values
from connectors.writer_lease import SinkFence, WriterLease, new_instance
from jobs.counters.settings import Settings
from jobs.counters.sink.lease_keeper import LeaseKeeper
from jobs.counters.sink.pyflink_hooks import exit_with_taskmanager, off_bundle_end, on_bundle_end
from jobs.counters.sink.writer import BackgroundWriter, ConvergingWriter
from jobs.counters.truth import LATE, MARKER_ROOM, MAX_TS, ROOM, truth_of

log = logging.getLogger(__name__)


# the sink's gauges: running totals since the sink started (summed over subtasks in Flink's
# UI), the last round's time, the last wait for it before a checkpoint barrier, and two stages
# of the latency budget (how old the newest event was when a truth of it reached the sink,
# and when its write was confirmed)
SINK_METRICS = ("events_counted", "duplicates_dropped", "window_results", "sink_rows_written",
                "sink_writes", "sink_ambiguous_rows", "sink_rows_waiting_for_replay",
                "sink_rows_read", "sink_failures", "sink_last_round_ms",
                "sink_arrival_age_ms", "persistence_delay_ms", "sink_barrier_drains",
                "sink_last_drain_ms")
# the sink's one clock-time gauge: when the oldest truth it holds and has not confirmed in
# Cassandra reached it (epoch ms, 0: none); now minus it grows while a write round is stuck,
# which a gauge read at bundle ends cannot show by itself
UNCONFIRMED_SINCE = "sink_unconfirmed_since_ms"


# truths the sink collects, while its writer is busy, before handing them over at once
HAND_OFF_ROWS = 512

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


class CounterSink(ProcessFunction):
    """Brings each counter row in Cassandra to its truth, exactly once (docs/exactly-once.md).

    A writer thread (``BackgroundWriter``) writes continuously, so Cassandra is never idle
    while Python waits for a bundle; the sink waits for it only at the bundle end before a
    checkpoint barrier (the hold's marker row says which), so no checkpoint covers an
    unwritten truth. Each row has one writer: the sink reads forward from the hold, which is
    keyed by the row. No Flink state, no timers."""

    def __init__(self, settings: Settings, owner: str) -> None:
        self.s = settings
        self.owner = owner  # of the keyspace's writer lease: this run of the job

    def open(self, ctx: RuntimeContext) -> None:
        exit_with_taskmanager()
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
        m.gauge(UNCONFIRMED_SINCE, self._unconfirmed_since_ms)
        self.writer = ConvergingWriter(store, self.s.settle_ms, on_written=self._written,
                                       before_write=self.lease.confirm)
        self.cluster.register_listener(_ForgetOnHostChange(self.writer))
        self.background = BackgroundWriter(self.writer, on_round=self._round_done)
        self.late_seen: dict[int, int] = {}
        # truths received and not yet handed to the writer (the newest per row)
        self._truths: dict[RowKey, Values] = {}
        self._truths_ts = 0
        self._truths_since = 0  # when the first of them arrived (epoch ms)
        self._newest_ts = 0  # the newest event time of any truth received
        # a barrier marker arrived in this bundle: drain the writer at its end
        self._barrier_due = False
        # the thread running this operator's current bundle: other operations of the worker
        # end their bundles on other threads, and must not drain (or race) this sink
        self._bundle_thread: int | None = None
        on_bundle_end(self._bundle_end)

    def close(self) -> None:
        # No drain here: truths not yet written belong to input after the last checkpoint,
        # which a restart replays; and a drain could block a cancel while Cassandra is down.
        off_bundle_end(self._bundle_end)
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
            if self._barrier_due:
                # a checkpoint barrier follows this bundle end: it must not cover a truth
                # that is not written (at other bundle ends the writer just goes on)
                self._barrier_due = False
                began = time.monotonic()
                self.background.drain()
                self.totals["sink_last_drain_ms"] = int((time.monotonic() - began) * 1000)
                self.totals["sink_barrier_drains"] += 1

    def _hand_off(self) -> None:
        self.lease.check()
        if self._truths:
            self.background.offer(self._truths, self._truths_ts, self._truths_since)
            self._truths, self._truths_ts, self._truths_since = {}, 0, 0

    def _unconfirmed_since_ms(self) -> int:
        since = [t for t in (self._truths_since, self.background.unconfirmed_since_ms) if t]
        return min(since, default=0)

    def process_element(self, row: Row, ctx: ProcessFunction.Context):
        self._bundle_thread = threading.get_ident()
        kind = row.get_row_kind()
        if kind == RowKind.DELETE:
            # the truths are an upsert stream: a DELETE is the barrier marker
            # (graph.held), sent right before a checkpoint barrier or the end
            # of input; Flink ends this bundle before the barrier passes the sink
            if row[ROOM] == MARKER_ROOM:
                self._barrier_due = True
            return ()
        if kind != RowKind.UPDATE_BEFORE:
            values = row[:]
            item = truth_of(values)
            if item is not None:
                key, truth = item
                if key[0] == TOTALS:
                    late = values[LATE]
                    self.m_late.inc(max(0, late - self.late_seen.get(key[1], 0)))
                    self.late_seen[key[1]] = late
                if not self._truths:
                    self._truths_since = int(time.time() * 1000)
                self._truths[key] = truth
                ts = values[MAX_TS]
                if ts > self._truths_ts:
                    self._truths_ts = ts
                if ts > self._newest_ts:
                    self._newest_ts = ts
                    self.totals["sink_arrival_age_ms"] = int(time.time() * 1000) - ts
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
