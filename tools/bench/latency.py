"""Latency at a fixed event rate: from an event's production to its being visible in
``room_totals``.

A producer sends the benchmark's event mix (``tools.bench.load``, zipf over the rooms) at a
fixed rate in ticks of 100 ms, with event times of the moment they are sent. Besides it,
``PROBES`` probe rooms (ids above the mix's rooms) get one like each per tick, and a poller
reads their ``events`` counter every 50 ms: when it rises from a to b, events a+1..b of that
room became visible then, and each one's latency is that moment minus the moment it was
handed to the Kafka client. The first ``warmup_s`` are not counted (the job's start, the
sink's settle time). At the end every counter row is checked against the truth.

With ``kill_at_s`` the run goes through a failure: the TaskManager is killed (-9) that long
into the measurement and a new one started at once, as a supervisor would. Every probe
event's latency is kept on a timeline from the job's start, for the longest time no probe
moved and the time until latency settled (``settle_time``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from connectors.avro_codec import SchemaRegistry
from connectors.events import like_record
from tools import verify
from tools.bench.jobrun import BenchError, JobRun, cluster_free
from tools.bench.load import Shape, Truth, chunks

log = logging.getLogger(__name__)

PROBES = 20
TICK_S = 0.1


@dataclass
class LatencyResult:
    rate: int
    seconds: float
    sent: int = 0
    achieved_rate: float = 0.0
    samples: list[float] = field(default_factory=list)   # seconds, after the warm-up
    exact: bool = False
    error: str | None = None
    restarts: int | None = None
    bundle_ms: int = 0
    flush_ms: int = 0
    # the job's gauges of BUDGET_GAUGES, sampled every 5 s while measuring (largest subtask)
    gauges: dict[str, list[float]] = field(default_factory=dict)
    # the Kafka source's lag (pendingRecords, both subtasks), sampled every 5 s while measuring
    lag_records: list[float] = field(default_factory=list)
    # every probe event, warm-up included: (sent, latency) in seconds, sent counted from the
    # moment the job was RUNNING; and the moments a probe's count rose, on the same clock
    timeline: list[tuple[float, float]] = field(default_factory=list)
    rises: list[float] = field(default_factory=list)
    measured_from: float = 0.0            # the end of the warm-up, on the same clock
    measured_to: float = 0.0
    killed_at: float | None = None        # the TaskManager kill, on the same clock
    checkpoints: int | None = None        # completed during the run

    def max_ms(self) -> float | None:
        return max(self.samples) * 1000 if self.samples else None

    def longest_freeze_s(self) -> float | None:
        return longest_freeze(self.rises, self.measured_from, self.measured_to)

    def settle_s(self, since: float) -> float | None:
        return settle_time(self.timeline, since)

    def keeps_up(self) -> bool:
        """The job keeps up with the offered rate: the producer reached >= 0.98x of it, and
        the lag in the last third of the run is at most 5 s of events (the job's own behind
        threshold) or no more than 1.5x the lag of the first third (bounded, not growing)."""
        return keeps_up(self.rate, self.achieved_rate, self.lag_records)

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.samples, q)) if self.samples else None


def keeps_up(rate: float, achieved_rate: float, lag_records: list[float]) -> bool:
    """See ``LatencyResult.keeps_up``."""
    if achieved_rate < 0.98 * rate or len(lag_records) < 3:
        return False
    third = max(1, len(lag_records) // 3)
    first, last = max(lag_records[:third]), max(lag_records[-third:])
    return last <= max(5 * rate, 1.5 * first)


def longest_freeze(rises: list[float], start: float, end: float) -> float | None:
    """The longest stretch of [start, end] in which no probe's count rose (None: no span)."""
    if end <= start:
        return None
    points = [start, *sorted(t for t in rises if start < t < end), end]
    return max(b - a for a, b in zip(points, points[1:], strict=False))


def settle_time(timeline: list[tuple[float, float]], since: float, window_s: float = 30.0,
                bound_s: float = 1.0, step_s: float = 0.5) -> float | None:
    """Seconds from ``since`` until latency settled: the first moment t from which the p99
    of the events sent in the next ``window_s`` is at most ``bound_s`` (None: never within
    the timeline). ``timeline``: (sent, latency) in seconds."""
    if not timeline:
        return None
    sent = np.array([x for x, _ in timeline])
    lat = np.array([y for _, y in timeline])
    t, last = since, float(sent.max())
    while t + window_s <= last + 1e-9:
        inside = lat[(sent >= t) & (sent < t + window_s)]
        if inside.size and float(np.percentile(inside, 99)) <= bound_s:
            return t - since
        t += step_s
    return None


def percentiles(samples: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 in milliseconds (None without samples)."""
    if not samples:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    p = np.percentile(np.array(samples) * 1000, [50, 95, 99])
    return {"p50_ms": float(p[0]), "p95_ms": float(p[1]), "p99_ms": float(p[2])}


# the latency budget's stages in the order an event passes them: the gauge (each how old the
# newest event was as it passed; "visible": the probes) and what the stage's wait holds
BUDGET_STAGES = (
    ("decoded_age_ms", "1 decoded: Kafka and the source"),
    ("aggregated_age_ms", "2 left the aggregation: dedup, aggregation, mini-batch flush, hold"),
    ("sink_arrival_age_ms", "3 in the Python sink: its bundle"),
    ("persistence_delay_ms", "4 confirmed in Cassandra: collected, the write round"),
    ("visible", "5 visible: the readers' poll; events older than their round's newest"),
)
# the sink's round, and the one wait exactly-once adds: at each checkpoint, the sink waits
# for its write round to end before the barrier passes it
ROUND, DRAIN = "sink_last_round_ms", "sink_last_drain_ms"
BUDGET_GAUGES = [g for g, _ in BUDGET_STAGES if g != "visible"] + [ROUND, DRAIN]


def latency_budget(bundle_ms: int, flush_ms: int, gauges: dict[str, list[float]],
                   visible_s: list[float]) -> dict[str, float | None]:
    """Where an event's time from produce to visible goes, stage by stage.

    For each stage of ``BUDGET_STAGES``, ``"<stage>|median"`` and ``"<stage>|p95"`` are how
    old events were as they passed it (the job's gauges, sampled while measuring; visible: the
    probes), and ``"<stage>|wait"`` the stage's own share: its median less the one before.
    Also the bounds the settings put on two waits (as their ``"|wait"``), the sink's write
    round and its wait at a checkpoint barrier. None where nothing was measured."""
    def pct(xs: list[float], q: float) -> float | None:
        return float(np.percentile(xs, q)) if xs else None

    series = dict(gauges)
    series["visible"] = [x * 1000 for x in visible_s]
    out: dict[str, float | None] = {}
    before: float | None = 0.0
    for gauge, stage in BUDGET_STAGES:
        median = pct(series.get(gauge, []), 50)
        out[f"{stage}|median"] = median
        out[f"{stage}|p95"] = pct(series.get(gauge, []), 95)
        out[f"{stage}|wait"] = (median - before if median is not None and before is not None
                                else None)
        before = median
    out["at most (a setting): the aggregation's mini-batch flush|wait"] = float(flush_ms)
    out["at most (a setting): the sink's Python bundle|wait"] = float(bundle_ms)
    for gauge, what in ((ROUND, "the sink's write round"),
                        (DRAIN, "exactly-once's wait: the sink's round before a barrier")):
        out[f"{what}|median"] = pct(gauges.get(gauge, []), 50)
        out[f"{what}|p95"] = pct(gauges.get(gauge, []), 95)
    return out


def visible_latencies(sent_at: list[float], seen_before: int, seen_now: int,
                      now: float) -> list[float]:
    """Latencies of a probe room's events ``seen_before + 1 .. seen_now`` (1-based counts)
    that became visible at ``now``; ``sent_at[k]`` is when event k + 1 was sent."""
    return [now - sent_at[k] for k in range(seen_before, min(seen_now, len(sent_at)))]


def run_latency(rate: int, seconds: float, parallelism: int, *, rooms: int = 100_000,
                warmup_s: float = 20.0, extra_args: list[str] | None = None,
                window_ms: int = 1000, kill_at_s: float | None = None,
                progress: Callable[[str], None] = log.info) -> LatencyResult:
    """One run at ``rate`` events/s for ``warmup_s + seconds`` with ``window_ms`` windows;
    with ``kill_at_s``, a TaskManager kill -9 that long after the warm-up."""
    run = JobRun("lat", parallelism, ["--window-ms", str(window_ms), *(extra_args or [])],
                 partitions=max(2, parallelism * 2))
    result = LatencyResult(rate, seconds, bundle_ms=run.s.bundle_ms, flush_ms=run.s.flush_ms)
    cluster_free()
    run.provision()
    reg = SchemaRegistry()
    like = reg.schema("LikeEvent")
    truth = Truth()
    probe_rooms = np.arange(rooms + 1, rooms + PROBES + 1, dtype=np.int64)
    sent_at: dict[int, list[float]] = {int(r): [] for r in probe_rooms}
    stop = threading.Event()
    errors: list[BaseException] = []

    def produce() -> None:
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": run.s.bootstrap, "enable.idempotence": True,
                      "acks": "all", "linger.ms": 5})
        per_tick = max(1, round(rate * TICK_S) - PROBES)
        t0 = time.monotonic()
        tick = 0
        try:
            while not stop.is_set():
                now_ms = int(time.time() * 1000)
                shape = Shape(per_tick, rooms, "zipf", seed=1_000_000 + tick, dup_rate=0.0,
                              invalid_rate=0.0, spread_ms=100,
                              window_ms=run.s.window_ms)
                for c in chunks(shape, now_ms, truth, chunk=per_tick):
                    for topic, msgs in ((run.s.likes_topic, c.likes),
                                        (run.s.gifts_topic, c.gifts)):
                        for key, value in msgs:
                            p.produce(topic, value, key)
                ts = np.full(PROBES, now_ms, dtype=np.int64)
                for room in probe_rooms.tolist():
                    k = len(sent_at[room])
                    value = reg.encode(like_record(f"probe-{room}-{k}", room, 1, 1, now_ms),
                                       like)
                    p.produce(run.s.likes_topic, value, str(room).encode())
                    sent_at[room].append(time.monotonic())
                truth.add_likes(probe_rooms, np.ones(PROBES, dtype=np.int64), ts,
                                run.s.window_ms)
                p.poll(0)
                tick += 1
                result.sent += per_tick + PROBES
                ahead = t0 + tick * TICK_S - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            if p.flush(60):
                raise BenchError("the latency producer could not deliver everything")
        except BaseException as exc:  # noqa: BLE001 - reported by the run
            errors.append(exc)

    def poll(session, t_measure: list[float]) -> None:
        stmt = session.prepare(f"SELECT room_id, events FROM {run.s.keyspace}.room_totals "
                               "WHERE room_id IN ?")
        seen = {int(r): 0 for r in probe_rooms}
        rooms_list = [int(r) for r in probe_rooms]
        while not stop.is_set() or any(seen[r] < len(sent_at[r]) for r in rooms_list):
            try:
                rows = session.execute(stmt, (rooms_list,), timeout=5)
            except Exception as exc:  # noqa: BLE001 - a slow read is a gap, not a failure
                log.warning("latency poll: %s", exc)
                continue
            now = time.monotonic()
            for row in rows:
                got = int(row.events or 0)
                if got > seen[row.room_id]:
                    lat = visible_latencies(sent_at[row.room_id], seen[row.room_id], got, now)
                    result.rises.append(now - t_running[0])
                    result.timeline += [(now - x - t_running[0], x) for x in lat]
                    if t_measure and now >= t_measure[0]:
                        first_measured = seen[row.room_id]
                        # only events sent after the warm-up count
                        result.samples += [x for i, x in enumerate(lat)
                                           if sent_at[row.room_id][first_measured + i]
                                           >= t_measure[0]]
                    seen[row.room_id] = got
            if stop.is_set() and time.monotonic() > stop_time[0] + 60:
                break
            time.sleep(0.05)

    from local_stack.cassandra import connect

    stop_time = [0.0]
    t_running = [0.0]
    producer = threading.Thread(target=produce, name="latency-producer", daemon=True)
    try:
        run.submit()
        run.wait_running()
        t_running[0] = time.monotonic()
        progress(f"  {rate:,} events/s: job {run.job_id} running; warm-up {warmup_s:.0f}s, "
                 f"then {seconds:.0f}s measured")
        with connect(list(run.s.cassandra_hosts)) as session:
            t_measure: list[float] = []
            poller = threading.Thread(target=poll, args=(session, t_measure), daemon=True)
            t0 = time.monotonic()
            producer.start()
            poller.start()
            time.sleep(warmup_s)
            t_measure.append(time.monotonic())
            result.measured_from = t_measure[0] - t_running[0]
            while time.monotonic() - t_measure[0] < seconds:
                time.sleep(5)
                if (kill_at_s is not None and result.killed_at is None
                        and time.monotonic() - t_measure[0] >= kill_at_s):
                    result.killed_at = kill_taskmanager() - t_running[0]
                    progress(f"    kill -9 of the TaskManager at {result.killed_at:.0f}s of the "
                             "job, a new one started at once")
                try:
                    gauges = run.metric_max(BUDGET_GAUGES)
                    lag = run.metric_sums(["pendingRecords"]).get("pendingRecords")
                except OSError as exc:
                    log.warning("REST: %s", exc)
                    gauges, lag = {}, None
                if lag is not None:
                    result.lag_records.append(lag)
                for name, value in gauges.items():
                    if value > 0 or name in (ROUND, DRAIN):  # an age of 0: nothing passed yet
                        result.gauges.setdefault(name, []).append(value)
                p = percentiles(result.samples)
                progress(f"    {time.monotonic() - t_measure[0]:.0f}s: {len(result.samples):,} "
                         f"samples, p50 {p['p50_ms'] or 0:.0f} ms, p99 {p['p99_ms'] or 0:.0f} ms"
                         + (f", lag {lag:,.0f} records" if lag is not None else ""))
                if errors:
                    raise BenchError(f"producer: {errors[0]!r}")
            stop.set()
            stop_time[0] = time.monotonic()
            result.measured_to = stop_time[0] - t_running[0]
            try:
                result.checkpoints = run.checkpoints().get("completed")
            except OSError as exc:
                log.warning("REST: %s", exc)
            producer.join()
            result.achieved_rate = result.sent / (stop_time[0] - t0)
            poller.join()
        if errors:
            raise BenchError(f"producer: {errors[0]!r}")
        report = verify.wait_until_exact(list(run.s.cassandra_hosts), run.s.keyspace,
                                         truth.expected(), timeout_s=120)
        result.exact = report.exact
        if not report.exact:
            what = ("behind: not complete 120 s after the producer stopped (a job still "
                    "catching up reads as 'lost')" if report.events_double_counted == 0
                    else "not exact")
            raise BenchError(f"{what}: {report.summary()}")
    except BenchError as exc:
        result.error = str(exc)
        progress(f"  error: {exc}")
    finally:
        stop.set()
        result.restarts = run.restarts()
        run.cancel()
    if result.exact:
        run.drop()
    p = percentiles(result.samples)
    progress(f"  {rate:,} events/s (achieved {result.achieved_rate:,.0f}/s): "
             f"{len(result.samples):,} samples, p50 {p['p50_ms'] or 0:.0f} ms, "
             f"p95 {p['p95_ms'] or 0:.0f} ms, p99 {p['p99_ms'] or 0:.0f} ms, "
             f"exact: {result.exact}, keeps up: {result.keeps_up()} (lag "
             f"{result.lag_records[:1]} -> {result.lag_records[-1:]} records)")
    return result


def kill_taskmanager() -> float:
    """kill -9 of the local stack's TaskManager and a new one started at once (as a
    supervisor would); returns the moment of the kill (monotonic)."""
    from local_stack import flink, stack
    from local_stack.paths import StackPaths

    paths = StackPaths.from_env()
    tm = stack.services(paths)["flink"].taskmanager  # type: ignore[attr-defined]
    return flink.kill_taskmanager(tm, paths)[0]
