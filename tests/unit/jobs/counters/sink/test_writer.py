"""The sink's convergence loop against a fake store: restarts, doubt, failures, replays."""

from __future__ import annotations

import pytest

from connectors.cassandra_counters import AmbiguousWrite
from connectors.counter_rows import GIFTS, TOTALS, WINDOWS
from jobs.counters.sink.writer import ConvergingWriter

pytestmark = pytest.mark.unit

T = (TOTALS, 1, 0)
W = (WINDOWS, 1, 60_000)
G = (GIFTS, 1, 7)


class FakeStore:
    """Counter rows in a dict. ``script`` says what each write call does:
    "ok", "lost" (times out, not applied), "landed" (times out, applied), "fail" (raises before
    sending)."""

    def __init__(self, rows=None, script=()):
        self.rows = dict(rows or {})
        self.script = list(script)
        self.reads = 0
        self.read_failures = 0

    def probe(self):
        if self.read_failures:
            self.read_failures -= 1
            raise ConnectionError("down")

    def read(self, rows):
        if self.read_failures:
            self.read_failures -= 1
            raise ConnectionError("down")
        self.reads += 1
        return {r: self.rows.get(r, (0,) * (5 if r[0] == TOTALS else 3 if r[0] == WINDOWS
                                            else 2)) for r in rows}

    def write(self, writes):
        what = self.script.pop(0) if self.script else "ok"
        if what in ("ok", "landed"):
            for w in writes:
                cur = self.rows.get(w.row, (0,) * len(w.increment))
                self.rows[w.row] = tuple(a + b for a, b in zip(cur, w.increment, strict=True))
        if what != "ok":
            raise AmbiguousWrite([w.row for w in writes], TimeoutError(what))


class PausedStore(FakeStore):
    """Cassandra stopped (SIGSTOP) until ``resume_at``: a request sent meanwhile waits in its
    queue; the client gives up after ``timeout`` s (a write's outcome is then unknown), and
    on resume Cassandra answers a waiting read *before* it applies the queued writes, the
    order that makes a read taken too early wrong."""

    def __init__(self, clock, resume_at, timeout=10.0, **kw):
        super().__init__(**kw)
        self.clock, self.resume_at, self.timeout = clock, resume_at, timeout
        self.queued = []

    def _apply_queued(self):
        if self.clock.t > self.resume_at:
            for w in self.queued:
                cur = self.rows.get(w.row, (0,) * len(w.increment))
                self.rows[w.row] = tuple(a + b for a, b in zip(cur, w.increment, strict=True))
            self.queued.clear()

    def _wait(self):
        """Block like a request to a stopped process; True if it is answered."""
        if self.clock.t >= self.resume_at:
            return True
        if self.resume_at - self.clock.t < self.timeout:
            self.clock.t = self.resume_at  # answered on resume, queued writes not yet applied
            return True
        self.clock.t += self.timeout
        return False

    def probe(self):
        self._apply_queued()
        if not self._wait():
            raise TimeoutError("probe")

    def read(self, rows):
        self._apply_queued()
        if not self._wait():
            raise TimeoutError("read")
        got = super().read(rows)
        self.clock.t += 0.01
        return got

    def write(self, writes):
        self._apply_queued()
        if self.clock.t < self.resume_at:
            self.clock.t += self.timeout
            self.queued += list(writes)  # lands on resume
            raise AmbiguousWrite([w.row for w in writes], TimeoutError("paused"))
        super().write(writes)


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def writer(store, clock, **kw):
    return ConvergingWriter(store, settle_ms=6000, clock=clock, sleep=clock.sleep, **kw)


def test_first_write_waits_settle_then_reads_then_converges():
    store, clock = FakeStore(), Clock()
    w = writer(store, clock)
    w.add({T: (5, 1, 100, 3, 0)})
    w.add({G: (1, 100)})
    w.flush()
    assert clock.t >= 6.0 and store.reads == 1
    assert store.rows == {T: (5, 1, 100, 3, 0), G: (1, 100)}
    w.add({T: (8, 1, 100, 4, 1)})
    w.flush()
    assert store.rows[T] == (8, 1, 100, 4, 1) and store.reads == 1  # no re-read needed


def test_restart_reads_what_an_earlier_attempt_wrote():
    # the earlier attempt wrote up to 12 likes; the restored truth is behind, then catches up
    store, clock = FakeStore({W: (12, 0, 0)}), Clock()
    w = writer(store, clock)
    w.add({W: (10, 0, 0)})          # replay not caught up: must not write (no going down)
    w.flush()
    assert store.rows[W] == (12, 0, 0) and w.stats.behind == 1
    w.add({W: (15, 0, 0)})
    w.flush()
    assert store.rows[W] == (15, 0, 0)


@pytest.mark.parametrize("outcome", ["lost", "landed"])
def test_ambiguous_write_is_reread_after_settle_never_doubled(outcome):
    store, clock = FakeStore(script=["ok", outcome]), Clock()
    w = writer(store, clock)
    w.add({T: (1, 0, 0, 1, 0)})
    w.flush()
    w.add({T: (4, 0, 0, 2, 0)})
    t_doubt = clock.t
    w.flush()
    assert store.rows[T] == (4, 0, 0, 2, 0)
    assert w.stats.ambiguous == 1 and clock.t - t_doubt >= 6.0 and store.reads == 2


def summed(reported, row):
    """What ``on_written`` reported for ``row``, column by column."""
    incs = [w.increment for w in reported if w.row == row]
    return tuple(map(sum, zip(*incs, strict=True)))


@pytest.mark.parametrize("outcome", ["lost", "landed"])
def test_a_write_in_doubt_is_reported_once_whether_it_landed_or_not(outcome):
    # the sink's events_counted sums what on_written reports: a timed-out write that landed
    # must be reported once (the bench waits for that metric to reach the truth)
    store, clock, reported = FakeStore(script=["ok", outcome]), Clock(), []
    w = writer(store, clock, on_written=reported.append)
    w.add({T: (1, 0, 0, 1, 0)})
    w.flush()
    w.add({T: (4, 0, 0, 2, 0)})
    w.flush()
    assert summed(reported, T) == store.rows[T] == (4, 0, 0, 2, 0)
    w.add({T: (6, 0, 0, 3, 0)})
    w.flush()
    assert summed(reported, T) == store.rows[T] == (6, 0, 0, 3, 0)


def test_repeated_doubt_and_read_failures_only_delay():
    store, clock = FakeStore(script=["landed", "lost", "fail", "ok"]), Clock()
    store.read_failures = 2
    w = writer(store, clock)
    w.add({T: (7, 2, 300, 3, 1)})
    w.add({W: (7, 2, 300)})
    w.flush()
    assert store.rows == {T: (7, 2, 300, 3, 1), W: (7, 2, 300)}
    assert w.stats.failures == 2 and not w.pending


def test_forgetting_what_is_applied_is_safe():
    store, clock = FakeStore(), Clock()
    w = writer(store, clock)
    w.add({T: (1, 0, 0, 1, 0)})
    w.flush()
    w.applied.clear()  # as when the cache is full
    w.add({T: (3, 0, 0, 2, 0)})
    w.flush()
    assert store.rows[T] == (3, 0, 0, 2, 0)


@pytest.mark.parametrize("resume_at", [12.0, 17.0, 20.0, 25.0, 31.0, 45.0])
def test_paused_cassandra_writes_that_land_on_resume_are_never_doubled(resume_at):
    clock = Clock()
    store = PausedStore(clock, resume_at, rows={T: (5, 0, 0, 5, 0)})
    reported = []
    w = writer(store, clock, on_written=reported.append)
    w.applied[T] = (5, 0, 0, 5, 0)   # known before the pause
    w.answered_at = 0.0
    clock.t = 1.0
    w.add({T: (9, 0, 0, 9, 0)})
    w.flush()                        # times out, lands on resume; must be re-read, not resent
    assert store.rows[T] == (9, 0, 0, 9, 0)
    w.add({T: (10, 0, 0, 10, 0)})
    w.flush()
    assert store.rows[T] == (10, 0, 0, 10, 0)
    assert summed(reported, T) == (5, 0, 0, 5, 0)  # what this writer added, each once


def test_writes_lost_by_a_crashed_node_are_written_again_after_forget():
    store, clock = FakeStore(), Clock()
    w = writer(store, clock)
    w.add({T: (5, 0, 0, 5, 0)})
    w.flush()
    w.add({T: (9, 0, 0, 9, 0)})
    w.flush()
    store.rows[T] = (5, 0, 0, 5, 0)  # the node restarted and lost the acknowledged +4
    w.forget()                       # the driver saw it go down / come up
    w.add({G: (1, 100)})             # T gets no new truth: it is written again anyway
    w.flush()
    assert store.rows == {T: (9, 0, 0, 9, 0), G: (1, 100)}


def test_writes_lost_by_a_node_are_reported_as_taken_back_then_written():
    store, clock, reported = FakeStore(), Clock(), []
    w = writer(store, clock, on_written=reported.append)
    w.add({T: (9, 0, 0, 9, 0)})
    w.flush()
    store.rows[T] = (5, 0, 0, 5, 0)  # lost the acknowledged +4
    w.forget()
    w.add({G: (1, 100)})
    w.flush()
    assert summed(reported, T) == store.rows[T] == (9, 0, 0, 9, 0)
    assert summed(reported, G) == (1, 100)


def test_background_writer_writes_everything_offered_before_drain_returns():
    from jobs.counters.sink.writer import BackgroundWriter

    store = FakeStore(rows={T: (5, 0, 0, 1, 0)})
    rounds = []
    bg = BackgroundWriter(ConvergingWriter(store, settle_ms=0), on_round=rounds.append)
    try:
        for likes in range(1, 200):
            bg.offer({T: (likes, 0, 0, likes, 0)})
            bg.offer({(WINDOWS, 1, likes * 60_000): (likes, 0, 0)})
        bg.drain()
        assert store.rows[T] == (199, 0, 0, 199, 0)
        assert all(store.rows[(WINDOWS, 1, i * 60_000)] == (i, 0, 0) for i in range(1, 200))
        assert rounds  # metrics were reported from the writer thread
    finally:
        bg.stop()


def test_background_writer_reports_the_newest_event_time_of_each_round():
    from jobs.counters.sink.writer import BackgroundWriter

    seen = []
    bg = None

    def on_round(_seconds):
        seen.append(bg.round_event_ts)

    bg = BackgroundWriter(ConvergingWriter(FakeStore(), settle_ms=0), on_round=on_round)
    try:
        bg.offer({T: (1, 0, 0, 1, 0)}, 1_000)
        bg.offer({W: (1, 0, 0)}, 3_000)
        bg.offer({T: (2, 0, 0, 2, 0)}, 2_000)  # a later truth of an older event
        bg.drain()
        assert max(seen) == 3_000
        bg.offer({G: (1, 5)}, 500)
        bg.drain()
        assert seen[-1] == 500  # each round reports its own truths, not a running maximum
    finally:
        bg.stop()


def test_background_writer_failure_fails_the_drain():
    from jobs.counters.sink.writer import BackgroundWriter

    class Fatal(BaseException):  # not an Exception: the writer does not retry it
        pass

    class Broken(FakeStore):
        def read(self, rows):
            raise Fatal("boom")

    bg = BackgroundWriter(ConvergingWriter(Broken(), settle_ms=0))
    bg.offer({T: (1, 0, 0, 1, 0)})
    with pytest.raises(RuntimeError, match="writer thread failed"):
        bg.drain()


def test_a_stopped_writer_sends_nothing_more_even_from_a_round_that_is_retrying():
    """A sink closed while its round retries (Cassandra not answering) must not write once
    Cassandra answers again: the next attempt of the job writes those rows, and two writers
    of one row count its delta twice."""
    import threading
    import time

    from jobs.counters.sink.writer import BackgroundWriter

    answering = threading.Event()

    class Down(FakeStore):
        def read(self, rows):
            if not answering.is_set():
                raise ConnectionError("node down")
            return super().read(rows)

    store = Down()
    writer = ConvergingWriter(store, settle_ms=0, sleep=lambda s: time.sleep(0.01))
    bg = BackgroundWriter(writer)
    bg.offer({T: (1, 0, 0, 1, 0)})
    deadline = time.monotonic() + 5
    while writer.stats.failures < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.stats.failures >= 3  # the round is retrying
    bg.stop()
    answering.set()
    bg._thread.join(timeout=5)
    assert not bg._thread.is_alive()
    assert store.rows == {}  # nothing written after the stop


def test_settled_only_without_a_write_in_doubt():
    """What the sink's close releases its fence on: every write it sent was answered."""
    store, clock = FakeStore(script=["lost"]), Clock()
    w = writer(store, clock)
    assert w.settled()  # wrote nothing
    w.add({T: (1, 0, 0, 1, 0)})
    w._round()  # the write times out: in doubt
    assert not w.settled()
    w.flush()  # settled, re-read, written again
    assert w.settled() and store.rows[T] == (1, 0, 0, 1, 0)


def test_stop_says_whether_the_writer_thread_ended():
    import threading
    import time

    from jobs.counters.sink.writer import BackgroundWriter

    release = threading.Event()

    class Slow(FakeStore):
        def write(self, writes):
            release.wait(5)
            return super().write(writes)

    store = Slow()
    bg = BackgroundWriter(ConvergingWriter(store, settle_ms=0))
    bg.offer({T: (1, 0, 0, 1, 0)})
    deadline = time.monotonic() + 5
    while not bg._busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bg.stop(wait_s=0.2) is False  # a write still waits for its answer
    release.set()
    assert bg.stop(wait_s=5) is True


def test_a_stuck_round_tells_how_long_its_oldest_truth_has_waited():
    """What makes the sink's stall visible at scrape time: while a round cannot finish, the
    time its oldest truth was offered stays put (Prometheus subtracts it from now); once
    every truth is written it reads 0."""
    import threading
    import time

    from jobs.counters.sink.writer import BackgroundWriter

    release = threading.Event()

    class Stuck(FakeStore):
        def write(self, writes):
            release.wait(5)
            return super().write(writes)

    bg = BackgroundWriter(ConvergingWriter(Stuck(), settle_ms=0))
    try:
        assert bg.unconfirmed_since_ms == 0
        bg.offer({T: (1, 0, 0, 1, 0)}, since_ms=1_000)
        deadline = time.monotonic() + 5
        while not bg._busy and time.monotonic() < deadline:
            time.sleep(0.01)
        bg.offer({W: (1, 0, 0)}, since_ms=2_000)  # waits behind the stuck round
        assert bg.unconfirmed_since_ms == 1_000  # the round's truth is the oldest
        release.set()
        bg.drain()
        assert bg.unconfirmed_since_ms == 0
        before = int(time.time() * 1000)
        bg.offer({G: (1, 5)})  # default: offered now
        assert bg.unconfirmed_since_ms in (0, *range(before, before + 5_000))
        bg.drain()
        assert bg.unconfirmed_since_ms == 0
    finally:
        release.set()
        bg.stop()


def test_background_writer_takes_many_truths_at_once_and_keeps_the_newest():
    from jobs.counters.sink.writer import BackgroundWriter

    store = FakeStore()
    bg = BackgroundWriter(ConvergingWriter(store, settle_ms=0))
    try:
        bg.drain()
        assert bg.idle
        bg.offer({T: (1, 0, 0, 1, 0), W: (1, 0, 0)}, 1_000)
        bg.offer({T: (3, 0, 0, 2, 0), G: (1, 5)}, 2_000)  # T again: its newest truth
        bg.drain()
        assert bg.idle
        assert store.rows == {T: (3, 0, 0, 2, 0), W: (1, 0, 0), G: (1, 5)}
        assert bg.round_event_ts == 2_000
    finally:
        bg.stop()


class CountingStore(FakeStore):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.write_calls = 0
        self.rows_sent = 0

    def write(self, writes):
        self.write_calls += 1
        self.rows_sent += len(writes)
        super().write(writes)


def _wait_for(condition, timeout_s=5.0):
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("event_age_ms", [0, 3_600_000])
def test_the_writer_writes_as_soon_as_truths_are_there(event_age_ms):
    """Live or a backlog alike: a behind job's truths are held before the sink, in the JVM
    (aggregate/hold.HoldPolicy, aggregate/test_hold.py), never in the writer."""
    import time

    from jobs.counters.sink.writer import BackgroundWriter

    store = CountingStore()
    bg = BackgroundWriter(ConvergingWriter(store, settle_ms=0))
    try:
        for likes in range(1, 4):
            bg.offer({T: (likes, 0, 0, likes, 0)}, int(time.time() * 1000) - event_age_ms)
            _wait_for(lambda likes=likes: store.rows.get(T) == (likes, 0, 0, likes, 0))
        assert store.write_calls == 3
    finally:
        bg.stop()
