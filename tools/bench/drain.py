"""Backlog drain: pre-produce a backlog, start the counting job, time it until every counter
row in Cassandra is complete, then check every row (and the dead-letter count) exactly."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from jobs.counters.settings import Settings
from tools import verify
from tools.bench.jobrun import BenchError, JobRun, OperatorLoad, cluster_free
from tools.bench.load import Shape, Truth, produce

log = logging.getLogger(__name__)


@dataclass
class DrainResult:
    shape: Shape
    parallelism: int
    messages: int = 0
    counted: int = 0
    rows: int = 0
    produce_s: float = 0.0
    start_s: float = 0.0          # submission until every task runs
    seconds: float = 0.0          # every task running until the counters are complete
    exact: bool = False
    rows_wrong: int = 0
    dlq_expected: int = 0
    dlq_letters: int = 0
    error: str | None = None
    load: list[list[OperatorLoad]] = field(default_factory=list)  # sampled during the run
    checkpoints: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    sink: dict = field(default_factory=dict)       # the sink's row reads and writes
    restarts: int | None = None   # how often the job failed and restarted (None: unknown)

    @property
    def events_per_s(self) -> float:
        """Messages drained per second (resends and invalid ones are work too)."""
        return self.messages / self.seconds if self.seconds else 0.0

    def stages(self) -> list[tuple[str, float, float, float]]:
        """Per operator chain, averaged over the samples: (name, busy ms/s, backpressured
        ms/s, records in/s), busiest first."""
        acc: dict[str, list[float]] = {}
        for sample in self.load:
            for op in sample:
                a = acc.setdefault(op.name, [0.0, 0.0, 0.0])
                a[0] += op.busy_ms_per_s / len(self.load)
                a[1] += op.backpressured_ms_per_s / len(self.load)
                a[2] += op.records_in_per_s / len(self.load)
        return sorted(((name, *vals) for name, vals in acc.items()), key=lambda t: -t[1])

    def bottleneck(self) -> str:
        """The operator chains, busiest first, with their busy and backpressured shares and
        the records they took in per second."""
        if not self.load:
            return "no samples"
        return "; ".join(f"{name}: busy {b:.0f} ms/s, backpressured {p:.0f} ms/s, "
                         f"{r:,.0f} records/s" for name, b, p, r in self.stages())


@dataclass
class Backlog:
    """A produced backlog on the topics of ``run``, with its truth."""

    run: JobRun
    shape: Shape
    truth: Truth
    produce_s: float

    @property
    def topics(self) -> list[str]:
        return [self.run.s.likes_topic, self.run.s.gifts_topic]


def for_job(shape: Shape, s: Settings) -> Shape:
    """``shape`` with the window size of the job that counts it (``--window-ms`` among the
    job's flags), so the expected rows are the job's rows."""
    return replace(shape, window_ms=s.window_ms)


def produce_backlog(shape: Shape, parallelism: int, *, prefix: str = "bench",
                    extra_args: list[str] | None = None,
                    progress: Callable[[str], None] = log.info) -> Backlog:
    """Fresh topics and keyspace, and ``shape``'s backlog on the topics."""
    cluster_free()
    run = JobRun(prefix, parallelism, extra_args=list(extra_args or []),
                 partitions=max(2, parallelism * 2))
    shape = for_job(shape, run.s)
    run.provision()
    progress(f"  producing {shape.events:,} events over {shape.rooms:,} rooms "
             f"({shape.distribution})")
    t0 = time.monotonic()
    last = [0.0]

    def produced(sent: int, secs: float) -> None:
        if secs - last[0] >= 10:
            last[0] = secs
            progress(f"    produced {sent:,}/{shape.events:,} ({sent / secs:,.0f}/s)")

    truth = produce(shape, run.s.bootstrap, run.s.likes_topic, run.s.gifts_topic,
                    int(time.time() * 1000), produced)
    backlog = Backlog(run, shape, truth, time.monotonic() - t0)
    progress(f"    backlog ready in {backlog.produce_s:.0f}s: {truth.messages:,} messages "
             f"({truth.counted:,} to count, {truth.duplicates:,} resends, "
             f"{truth.invalid:,} invalid)")
    return backlog


def run_drain(backlog: Backlog, *, stall_s: float = 180,
              progress: Callable[[str], None] = log.info,
              keep: Callable[[JobRun, DrainResult], None] | None = None) -> DrainResult:
    """Run the job over ``backlog`` and measure (the backlog's topics and keyspace stay:
    call ``backlog.run.drop()`` when done with them).

    Completion is when the job's ``events_counted`` metric (the events whose room_totals
    rows are written) reaches the backlog's count; then every row of the three tables is
    compared with the truth (polling up to a minute more if needed: the time then counts),
    and the dead-letter topic must hold one letter per invalid message. A run fails
    (``error``) if the count stops moving for ``stall_s``. ``keep(run, result)`` is called
    before the job is cancelled (to read more from it)."""
    run, truth, shape = backlog.run, backlog.truth, backlog.shape
    result = DrainResult(shape, run.parallelism)
    result.produce_s = backlog.produce_s
    result.messages, result.counted = truth.messages, truth.counted
    result.dlq_expected = truth.invalid
    expected = truth.expected()
    result.rows = len(expected.totals) + len(expected.windows) + len(expected.gifts)
    try:
        t_submit = time.monotonic()
        run.submit()
        t_run = run.wait_running()
        result.start_s = t_run - t_submit
        progress(f"    job {run.job_id} running after {result.start_s:.1f}s at parallelism "
                 f"{run.parallelism}; {result.rows:,} counter rows to fill")
        counted, moved_at, next_profile = 0.0, time.monotonic(), time.monotonic() + 10
        last_say = 0.0
        while counted < truth.counted:
            time.sleep(1)
            now = time.monotonic()
            try:
                c = run.metric_sums(["events_counted"]).get("events_counted", 0.0)
                if now >= next_profile:
                    next_profile = now + 10
                    result.load.append(run.operator_load())
            except OSError as exc:
                log.warning("REST: %s", exc)
                continue
            if c > counted:
                counted, moved_at = c, now
                if now - last_say >= 10 or c >= truth.counted:
                    last_say = now
                    progress(f"    counted {int(c):,}/{truth.counted:,} events after "
                             f"{now - t_run:.0f}s ({c / max(now - t_run, 1e-3):,.0f}/s)")
            if run.job()["state"] == "FAILED":
                raise BenchError("the job failed")
            if now - moved_at > stall_s:
                # the metric stopped: say what Cassandra holds, so a wrong metric is told
                # apart from a stalled job
                report = verify.wait_until_exact(list(run.s.cassandra_hosts), run.s.keyspace,
                                                 expected, timeout_s=0)
                raise BenchError(f"no progress for {stall_s:.0f}s at {int(counted):,} events "
                                 f"(events_counted); Cassandra "
                                 f"{'exact' if report.exact else 'not exact'}: "
                                 f"{report.summary()}")
        result.seconds = time.monotonic() - t_run
        progress(f"    complete after {result.seconds:.1f}s; checking every row")
        report = verify.wait_until_exact(list(run.s.cassandra_hosts), run.s.keyspace,
                                         expected, timeout_s=60)
        if not report.exact:
            result.rows_wrong = len(report.rows_wrong)
            raise BenchError(f"not exact: {report.summary()}")
        result.dlq_letters = len(verify.dead_letter_digests(
            run.s.bootstrap, run.s.dlq_topic, expected=truth.invalid))
        result.exact = result.dlq_letters == truth.invalid
        if not result.exact:
            raise BenchError(f"dead letters: {result.dlq_letters} for {truth.invalid} invalid")
        result.checkpoints = run.checkpoints()
        result.memory = run.taskmanager_memory()
        result.sink = run.metric_sums(["sink_rows_written", "sink_rows_read", "sink_writes"])
        if keep:
            keep(run, result)
    except BenchError as exc:
        result.error = str(exc)
        progress(f"    error: {exc}")
    finally:
        result.restarts = run.restarts()
        run.cancel()
    for name, busy, bp, records in result.stages():
        progress(f"    stage {name[:60]}: busy {busy:.0f} ms/s, backpressured {bp:.0f} ms/s, "
                 f"{records:,.0f} records/s")
    if result.sink:
        written = result.sink.get("sink_rows_written", 0)
        progress(f"    sink: {written:,.0f} counter rows written "
                 f"({written / max(result.messages, 1):.3f} an event, "
                 f"{written / max(result.rows, 1):.1f} a row) in "
                 f"{result.sink.get('sink_writes', 0):,.0f} write rounds; "
                 f"{result.sink.get('sink_rows_read', 0):,.0f} rows read")
    progress(f"    {result.messages:,} messages in {result.seconds:.1f}s = "
             f"{result.events_per_s:,.0f}/s, exact: {result.exact}, "
             f"restarts: {'unknown' if result.restarts is None else result.restarts}")
    return result
