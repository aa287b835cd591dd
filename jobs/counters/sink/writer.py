"""The sink's convergence loop: bring counter rows to their truth, exactly once.

Plain Python over a store with ``read(rows)`` and ``write(writes)`` (``CounterStore`` in
production, a fake in unit tests), so that the order of reads and writes docs/exactly-once.md
argues for is tested without services: a row is read before its first write and after any
doubt, only once Cassandra has answered ``settle_ms`` after the doubt; a flush returns only
when every row added is written (or ahead, for a replay to catch up); failures are retried,
never dropped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.cassandra_counters import AmbiguousWrite
from connectors.counter_rows import RowKey, Values, Write
from connectors.writer_lease import LeaseLost
from jobs.counters.sink.plan import behind, plan_write

log = logging.getLogger(__name__)


@dataclass
class SinkStats:
    rows_written: int = 0
    writes: int = 0
    rows_read: int = 0
    ambiguous: int = 0
    behind: int = 0
    failures: int = 0


class SinkStopped(Exception):
    """The sink was closed: whatever is pending is replayed by the next attempt."""


class ConvergingWriter:
    APPLIED_CACHE_ROWS = 2_000_000
    # the longest wait between two tries while Cassandra fails: a restarted node is seen
    # within it (at 10 s the sink sat idle up to 5.5 s after Cassandra was back); a try is
    # one probe, so trying that often adds no load to speak of
    RETRY_MAX_S = 2.0

    def __init__(self, store, settle_ms: int,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 on_written: Callable[[Write], None] | None = None,
                 before_write: Callable[[], None] | None = None) -> None:
        self.store = store
        # raises LeaseLost once this job may no longer write, LeaseUnconfirmed (retried like
        # an unreachable Cassandra) while its lease is not confirmed (connectors.writer_lease)
        self.before_write = before_write
        self.settle_s = settle_ms / 1000
        self.clock, self.sleep = clock, sleep
        self.on_written = on_written
        self.pending: dict[RowKey, Values] = {}
        self.applied: dict[RowKey, Values] = {}
        # what rows in doubt held when last known (a write of unknown outcome, a node that
        # came back): what their re-read shows beyond it landed, and goes to ``on_written``
        self.doubted: dict[RowKey, Values] = {}
        self.doubt_at = clock()                # the start: an earlier attempt's writes
        self.answered_at: float | None = None  # first answer to a request sent after it
        self._forget = False
        self.stats = SinkStats()
        self._stop = threading.Event()

    def forget(self) -> None:
        """Cassandra may have lost what it acknowledged (a node went down and came back):
        read every row again before writing it. Safe to call from any thread."""
        self._forget = True

    def add(self, truths: dict[RowKey, Values]) -> None:
        """The newest truths of rows, written at the next ``flush``."""
        self.pending.update(truths)

    def stop(self) -> None:
        """The sink is closed: no further round starts, no retry, no write is sent (a flush
        raises SinkStopped). Safe to call from any thread."""
        self._stop.set()

    def stopped(self) -> bool:
        return self._stop.is_set()

    def flush(self) -> None:
        backoff = 0.1
        while self.pending:
            if self.stopped():
                raise SinkStopped(f"{len(self.pending)} rows left to the next attempt")
            try:
                self._round()
                backoff = 0.1
            except (LeaseLost, SinkStopped):
                raise  # another job writes these rows now, or this sink is closed: never retry
            except Exception as exc:  # noqa: BLE001 - Cassandra unreachable or overloaded: keep the truths
                self._doubt()
                self.stats.failures += 1
                log.warning("sink: %s: %s; retrying in %.1fs (%d rows pending)",
                            type(exc).__name__, exc, backoff, len(self.pending))
                self.sleep(backoff)
                backoff = min(backoff * 2, self.RETRY_MAX_S)

    def _round(self) -> None:
        if self._forget:  # write every row known again (a row may get no new truth)
            self._forget = False
            for row, values in self.applied.items():
                self.pending.setdefault(row, values)
                self.doubted.setdefault(row, values)
            self.applied.clear()
            self._doubt()
        unknown = [r for r in self.pending if r not in self.applied]
        if unknown:
            self._settle()
            read = self.store.read(unknown)
            self.applied.update(read)
            self.stats.rows_read += len(unknown)
            if self.doubted:
                self._count_landed(read)
        writes: list[Write] = []
        for row, truth in list(self.pending.items()):
            w = plan_write(row, truth, self.applied[row])
            if w is not None:
                writes.append(w)
                continue
            if behind(truth, self.applied[row]):
                self.stats.behind += 1  # the replay will bring a truth that catches up
            del self.pending[row]
        if not writes:
            return
        if self.before_write:
            self.before_write()
        if self.stopped():  # closed while this round read: its writes are not sent
            raise SinkStopped(f"{len(self.pending)} rows left to the next attempt")
        try:
            self.store.write(writes)
            doubtful: set[RowKey] = set()
        except AmbiguousWrite as exc:
            doubtful = set(exc.rows)
            self.stats.ambiguous += len(doubtful)
            for row in doubtful:
                before = self.applied.pop(row, None)
                if before is not None:
                    self.doubted.setdefault(row, before)
            self._doubt()
            log.warning("sink: %s; re-reading them after %.1fs", exc, self.settle_s)
        self.stats.writes += 1
        for w in writes:
            if w.row in doubtful:
                continue
            self.applied[w.row] = self.pending.pop(w.row)
            self.stats.rows_written += 1
            if self.on_written:
                self.on_written(w)
        if len(self.applied) > self.APPLIED_CACHE_ROWS:
            self.applied.clear()  # forgetting is safe: rows are read again before a write

    def _count_landed(self, read: dict[RowKey, Values]) -> None:
        """Report to ``on_written`` what re-read rows in doubt gained since last known: a
        write that timed out but landed (or, negative, what a node lost). Without it the
        sink's running totals (``events_counted``) would miss a landed write for good: the
        row's next write only adds what the truth has beyond the re-read."""
        for row, values in read.items():
            before = self.doubted.pop(row, None)
            if before is None or not self.on_written:
                continue
            landed = tuple(v - b for v, b in zip(values, before, strict=True))
            if any(landed):
                self.on_written(Write(row, landed))

    def settled(self) -> bool:
        """No write of unknown outcome since Cassandra last answered: every write sent was
        confirmed (call once no round runs)."""
        return self.stats.writes == 0 or self.answered_at is not None

    def _doubt(self) -> None:
        self.doubt_at = self.clock()
        self.answered_at = None

    def _settle(self) -> None:
        """Return once ``settle_s`` passed since Cassandra answered a request sent after the
        last doubt (a probe, sent here if needed; it raises while Cassandra does not answer)."""
        while True:
            if self.answered_at is None:
                sent = self.clock()
                self.store.probe()
                if sent >= self.doubt_at:
                    self.answered_at = self.clock()
                continue
            wait = self.answered_at + self.settle_s - self.clock()
            if wait <= 0:
                return
            self.sleep(wait)


class BackgroundWriter:
    """Runs a ``ConvergingWriter`` on a thread of its own.

    ``offer`` only records the newest truth of a row (cheap, never blocks on Cassandra);
    the thread takes everything offered so far and flushes it, round after round. While a
    round runs, new truths collect, and a row offered several times is written once: the
    slower Cassandra answers, the more each write carries. ``drain()`` returns once every
    truth offered before the call is written (the writer's guarantee); the sink calls it at
    the end of the bundle before each checkpoint barrier, so a checkpoint never covers an
    unwritten truth. (A behind job's truths are held before they reach the sink, in the JVM:
    ``aggregate/hold.HoldPolicy``.) The writer is only ever used from the thread (no locking
    in it: truths reach it through ``add``, a stop through ``stop``);
    ``on_round(seconds)`` is called there after each round, when ``round_event_ts`` holds the
    newest event time the round's truths cover. ``unconfirmed_since_ms`` is when the oldest
    truth not yet confirmed in Cassandra was offered (wall clock): read at any time, it tells
    how long a stuck round has waited.
    """

    def __init__(self, writer: ConvergingWriter,
                 on_round: Callable[[float], None] | None = None) -> None:
        self.writer = writer
        self.on_round = on_round
        self._cond = threading.Condition()
        self._incoming: dict[RowKey, Values] = {}
        self._incoming_ts = 0  # the newest event time offered since the last round began
        # wall-clock ms when the oldest truth of _incoming / of the running round was
        # offered (0: none)
        self._incoming_since = 0
        self._round_since = 0
        # the newest event time of the truths written by the last round (0: none known)
        self.round_event_ts = 0
        self._busy = False
        self._stopped = False
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="counter-sink-writer",
                                        daemon=True)
        self._thread.start()

    def offer(self, truths: dict[RowKey, Values], event_ts: int | None = None,
                   since_ms: int | None = None) -> None:
        """Several rows' newest truths at once (one lock, one wake-up); ``event_ts``: the
        newest event time they cover, if known; ``since_ms``: when the oldest of them reached
        the caller (wall-clock epoch ms; default now)."""
        since = since_ms or int(time.time() * 1000)
        with self._cond:
            self._check()
            if truths and (not self._incoming_since or since < self._incoming_since):
                self._incoming_since = since
            self._incoming.update(truths)
            if event_ts is not None and event_ts > self._incoming_ts:
                self._incoming_ts = event_ts
            self._cond.notify_all()

    @property
    def idle(self) -> bool:
        """Nothing to write and no round running (read without the lock: a hint only)."""
        return not self._busy and not self._incoming

    @property
    def unconfirmed_since_ms(self) -> int:
        """When the oldest truth offered and not yet confirmed was offered (epoch ms; 0:
        every truth offered is written). Read without the lock: a signal only."""
        since = [t for t in (self._round_since, self._incoming_since) if t]
        return min(since, default=0)

    def drain(self) -> None:
        """Raises if the writer thread failed: the bundle (and the checkpoint after it) must
        not complete with unwritten truths; the task fails and restarts from a checkpoint."""
        with self._cond:
            while (self._incoming or self._busy) and not self._stopped:
                self._cond.wait()
            self._check()

    def _check(self) -> None:
        if self._failed is not None:
            raise RuntimeError("the sink's writer thread failed") from self._failed

    def stop(self, wait_s: float = 0.0) -> bool:
        """Stops the writer: a round in progress sends no further write (also one retrying
        while Cassandra does not answer); what is not written is replayed after a restart.
        Waits up to ``wait_s`` for the thread to end; returns whether it did (no request of
        it is then still waiting for an answer)."""
        with self._cond:
            self._stopped = True
            self.writer.stop()
            self._cond.notify_all()
        self._thread.join(wait_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and not self._incoming:
                    self._cond.wait()
                if self._stopped:
                    return
                batch, self._incoming = self._incoming, {}
                batch_ts, self._incoming_ts = self._incoming_ts, 0
                self._round_since, self._incoming_since = self._incoming_since, 0
                self._busy = True
            try:
                t0 = time.monotonic()
                self.writer.add(batch)
                self.writer.flush()
                self.round_event_ts = batch_ts
                self._round_since = 0
                if self.on_round:
                    self.on_round(time.monotonic() - t0)
            except SinkStopped:
                return
            except BaseException as exc:  # never leave a drain waiting on a dead thread
                log.exception("sink writer thread failed")
                with self._cond:
                    self._failed = exc
                    self._stopped = True
                    self._cond.notify_all()
                return
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
