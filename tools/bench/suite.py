"""The benchmark suite behind ``scripts/bench``: every scenario of docs/benchmarks.md, in one run,
on the local stack, each figure checked exact where there is something to check.

Sizes (``Sizes.full`` / ``Sizes.quick``) decide how long it takes; the scenarios are:

0. live-platform drain: many events per room (10,000,000 over 10,000 rooms, zipf), where the
   path each event takes through the job sets the pace, not the counter rows;
1. backlog drain (the long tail): the counting job over a pre-produced backlog (zipf over
   100,000 rooms, about one counter row filled per two events), where counter rows do;
2. ceilings on the same backlog: Kafka's own consumer benchmark, Flink's Kafka source into a
   blackhole, and Flink SQL datagen -> 1 s tumbling window -> blackhole (the same room
   distribution);
3. Python peers on the same backlog: kafka-python + fastavro + dicts + cassandra-driver, and
   Quix Streams when its virtual environment can be installed;
4. latency at fixed rates with 1 s windows, and at 5,000 events/s with the job's 60 s windows
   through a TaskManager kill -9 (``failure``; not in the quick run);
5. hot room (half of all events to one room) against uniform rooms;
6. scale of state: many distinct rooms; checkpoint size and duration, memory, bytes a room;
7. the producer library with and without merging of likes.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from local_stack.addresses import KAFKA_BOOTSTRAP
from local_stack.flink import job_restarts
from local_stack.paths import REPO_ROOT, StackPaths
from tools.bench import report as rep
from tools.bench.drain import DrainResult, produce_backlog, run_drain
from tools.bench.latency import latency_budget, percentiles, run_latency
from tools.bench.load import Shape
from tools.bench.report import (
    RESTARTS,
    BenchResult,
    FailurePoint,
    LatencyPoint,
    Measurement,
    Target,
)

log = logging.getLogger(__name__)

# load.py's names for the room distributions -> the ceiling job's
CEILING_DISTRIBUTION = {"zipf": "log-uniform", "uniform": "uniform", "hot": "hot"}
QUIX_LIMIT_S = 300.0  # the Quix peer is stopped after this long (it is the slowest here)
# the live platform's backlog read by the job's first stages alone (scenario "0 stage")
PLATFORM_SOURCE = "live platform: Flink Kafka source -> blackhole"
PLATFORM_DECODE = "live platform: source -> decode -> blackhole"
# the same with the Python decoders the job's JVM decoder replaced (tools/bench/python_decode.py)
PLATFORM_DECODE_PY = "live platform: source -> Python decode (vectorized) -> blackhole"
PLATFORM_DECODE_PY_THREAD = ("live platform: source -> Python decode (row at a time, thread "
                             "mode) -> blackhole")
PLATFORM_TRUTHS = "live platform: the job without its sink (truths -> blackhole)"
SCENARIOS = ("platform", "drain", "ceilings", "peer", "latency", "hot", "scale", "producer",
             "failure")
# the per-event path's targets: events/s of the live-platform drain and of the job without
# its sink; the live rates the job must keep up with
PLATFORM_TARGET = 60_000
SINKLESS_TARGET = 100_000
KEEP_UP_RATES = (20_000, 40_000)


@dataclass(frozen=True)
class Sizes:
    platform_events: int      # 0: not run
    platform_rooms: int
    drain_events: int
    rooms: int
    hot_events: int           # 0: not run
    hot_rooms: int
    latency_rates: tuple[int, ...]
    latency_s: float
    latency_warmup_s: float
    latency_rooms: int
    failure_s: float          # latency through a TaskManager kill at 5,000 ev/s (0: not run)
    scale_rooms: int          # 0: not run
    producer_s: float
    quix: bool
    kafka_ceiling_job: bool

    @classmethod
    def full(cls) -> Sizes:
        return cls(platform_events=10_000_000, platform_rooms=10_000,
                   drain_events=300_000, rooms=100_000, hot_events=200_000, hot_rooms=10_000,
                   latency_rates=(5_000, *KEEP_UP_RATES), latency_s=180, latency_warmup_s=15,
                   latency_rooms=1_000, failure_s=180, scale_rooms=200_000, producer_s=10,
                   quix=True,
                   kafka_ceiling_job=True)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(platform_events=300_000, platform_rooms=1_000,
                   drain_events=100_000, rooms=100_000, hot_events=0, hot_rooms=10_000,
                   latency_rates=(5_000,), latency_s=20, latency_warmup_s=15,
                   latency_rooms=1_000, failure_s=0, scale_rooms=0, producer_s=3,
                   quix=False,
                   kafka_ceiling_job=False)


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except OSError:
        ram = "unknown"
    return {"cpu": cpu, "cores": str(os.cpu_count()), "ram": ram,
            "os": f"{platform.system()} {platform.release()}"}


def versions(paths: StackPaths) -> dict[str, str]:
    def jar(folder: str, pattern: str) -> str:
        for f in sorted(paths.lib(folder).glob("*.jar")):
            m = re.fullmatch(pattern, f.name)
            if m:
                return m.group(1)
        return "unknown"

    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True,
                              timeout=30).stderr.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        java = "unknown"
    out = {"Python": platform.python_version(), "Java": java,
           "Flink (apache-flink)": metadata.version("apache-flink"),
           "Kafka": jar("kafka", r"kafka-clients-(.+)\.jar"),
           "Cassandra": jar("cassandra", r"cassandra-all-(.+)\.jar"),
           "Flink Kafka connector": jar("flink-connectors",
                                        r"flink-sql-connector-kafka-(.+)\.jar")}
    for lib in ("kafka-python", "cassandra-driver", "fastavro", "confluent-kafka"):
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return out


class Suite:
    def __init__(self, sizes: Sizes, parallelism: int, only: tuple[str, ...],
                 progress: Callable[[str], None], result: BenchResult,
                 job_args: tuple[str, ...] = ()) -> None:
        self.z, self.p, self.only, self.say, self.r = sizes, parallelism, only, progress, result
        self.job_args = list(job_args)  # flags for every counting job of the run
        self.drain: Measurement | None = None
        self.platform_drain: Measurement | None = None

    @staticmethod
    def _every(seconds: float, fn: Callable[[int], None]) -> Callable[[int], None]:
        """``fn`` at most every ``seconds``."""
        last = [0.0]

        def call(n: int) -> None:
            if time.monotonic() - last[0] >= seconds:
                last[0] = time.monotonic()
                fn(n)
        return call

    def want(self, name: str) -> bool:
        return name in self.only

    # --- scenario helpers ------------------------------------------------------------------

    def _drain_measurement(self, scenario: str, subject: str, d: DrainResult) -> Measurement:
        if d.load:
            self.r.stages[f"{scenario}: {subject}"] = [list(stage) for stage in d.stages()]
        extra: dict[str, float | str] = {
            "rooms": d.shape.rooms, "distribution": d.shape.distribution,
            "parallelism": d.parallelism, "job start s": round(d.start_s, 1),
            "counter rows": d.rows}
        if d.restarts is not None:
            extra[RESTARTS] = d.restarts
        if d.sink:
            extra["rows written"] = int(d.sink.get("sink_rows_written", 0))
            extra["rows read"] = int(d.sink.get("sink_rows_read", 0))
        if d.load:
            extra["profile"] = d.bottleneck()
        if d.error:
            extra["error"] = d.error
        return Measurement(scenario, subject, d.messages, d.seconds, d.exact, extra)

    # --- the scenarios ---------------------------------------------------------------------

    def platform(self) -> None:
        """0: many events per room; the long-tail drain (1) is the other regime."""
        z = self.z
        if not z.platform_events:
            return
        shape = Shape(z.platform_events, z.platform_rooms, "zipf", spread_ms=60_000)
        self.say(f"[0 live platform] backlog of {shape.events:,} events over "
                 f"{shape.rooms:,} rooms")
        backlog = produce_backlog(shape, self.p, extra_args=self.job_args, progress=self.say)
        try:
            d = run_drain(backlog, progress=self.say)
            self.platform_drain = self._drain_measurement("0 live-platform drain",
                                                          "live-counters job", d)
            self.r.measurements.append(self.platform_drain)
            self._platform_stages(backlog)
        finally:
            backlog.run.drop()

    def _platform_stages(self, backlog) -> None:
        """The live platform's backlog read again by the job's first stages alone, each into
        a blackhole: what the job could reach if every later stage cost nothing (the last,
        the job without its sink, is the most any sink could give)."""
        from tools.bench import ceilings

        topics = ",".join(backlog.topics)
        job_args = shlex.join(backlog.run.args)
        for subject, args in (
                (PLATFORM_SOURCE, ["--kind", "kafka", "--topics", topics]),
                (PLATFORM_DECODE, ["--kind", "decode", "--job-args", job_args]),
                (PLATFORM_DECODE_PY, ["--kind", "decode", "--decoder", "python",
                                      "--job-args", job_args]),
                (PLATFORM_DECODE_PY_THREAD, ["--kind", "decode", "--decoder", "python-thread",
                                             "--job-args", job_args]),
                (PLATFORM_TRUTHS, ["--kind", "truths", "--job-args", job_args])):
            group = f"bench-stage-{uuid.uuid4().hex[:8]}"
            self.say(f"[0 live platform] the same backlog: {subject}")
            self._ceiling_job(subject, [*args, "--group-id", group], scenario="0 stage",
                              reference=self.platform_drain)
            ceilings.delete_group(KAFKA_BOOTSTRAP, group)

    def backlog_scenarios(self) -> None:
        """1-3: one backlog; the job, the ceilings and the peers each read all of it."""
        z = self.z
        shape = Shape(z.drain_events, z.rooms, "zipf", spread_ms=60_000)
        self.say(f"[1 drain] backlog of {shape.events:,} events over {shape.rooms:,} rooms")
        backlog = produce_backlog(shape, self.p, extra_args=self.job_args, progress=self.say)
        try:
            if self.want("drain"):
                d = run_drain(backlog, progress=self.say)
                self.drain = self._drain_measurement("1 backlog drain", "live-counters job", d)
                self.r.measurements.append(self.drain)
            topics, n = backlog.topics, backlog.truth.messages
            if self.want("ceilings"):
                self._ceilings(topics, n, shape)
            if self.want("peer"):
                self._peers(backlog)
        finally:
            backlog.run.drop()

    def _ceilings(self, topics: list[str], messages: int, shape: Shape) -> None:
        from tools.bench import ceilings

        self.say("[2 ceilings] Kafka's consumer benchmark on the backlog's topics")
        try:
            perf = ceilings.consumer_perf(KAFKA_BOOTSTRAP, topics, messages)
            m = Measurement("2 ceiling", "Kafka consume (kafka-consumer-perf-test)",
                            perf.messages, perf.fetch_s, None, {"MB/s": round(perf.mb_per_s, 1)})
        except Exception as exc:  # noqa: BLE001 - a failed ceiling is reported, not fatal
            m = Measurement("2 ceiling", "Kafka consume (kafka-consumer-perf-test)", 0, 0.0,
                            False, {"error": str(exc)[:300]})
        self._add_ceiling(m)
        self._cassandra_ceiling(50_000 if self.z.quix else 20_000)
        if self.z.kafka_ceiling_job:
            group = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
            self.say("[2 ceilings] Flink: Kafka source -> blackhole, same topics")
            self._ceiling_job("Flink Kafka source -> blackhole",
                              ["--kind", "kafka", "--bootstrap", KAFKA_BOOTSTRAP,
                               "--topics", ",".join(topics), "--group-id", group])
            ceilings.delete_group(KAFKA_BOOTSTRAP, group)
        else:
            self.r.notes.append("Flink Kafka source -> blackhole ceiling: not run in --quick "
                                "mode.")
        self.say(f"[2 ceilings] Flink SQL datagen -> 1 s tumbling window -> blackhole, "
                 f"{shape.events:,} rows, {shape.distribution} over {shape.rooms:,} rooms")
        self._ceiling_job("Flink SQL datagen -> 1 s window -> blackhole",
                          ["--kind", "engine", "--events", str(shape.events),
                           "--rooms", str(shape.rooms),
                           "--distribution", CEILING_DISTRIBUTION[shape.distribution]])

    def _cassandra_ceiling(self, rows: int) -> None:
        """Counter rows/s Cassandra takes from one Python client, written as the sink writes
        them (batches of partitions, only changed columns): the bound of every figure here."""
        from tools.bench.store_ceiling import counter_write_rate

        self.say(f"[2 ceilings] Cassandra counter updates: {rows:,} rows as the sink writes them")
        try:
            res = counter_write_rate(rows)
            m = Measurement("2 ceiling", "Cassandra counter rows (sink's batches)", res.rows,
                            res.seconds, None, {"unit": "rows, not events",
                                                "read rows/s": round(res.read_rows_per_s)})
        except Exception as exc:  # noqa: BLE001
            m = Measurement("2 ceiling", "Cassandra counter rows (sink's batches)", 0, 0.0,
                            False, {"error": str(exc)[-300:]})
        self.r.measurements.append(m)
        self.say(f"    {m.events_per_s:,.0f} counter rows/s")

    def _ceiling_job(self, subject: str, args: list[str], scenario: str = "2 ceiling",
                     reference: Measurement | None = None) -> None:
        """A ceiling job's rate as a measurement of ``scenario``, and the drain's ratio to it
        (the long-tail drain's, or ``reference``'s)."""
        from tools.bench import ceilings

        try:
            res = ceilings.run_ceiling_job(args, standalone=True, parallelism=self.p)
            events = int(res["events"])
            secs = events / res["events_per_s"] if res["events_per_s"] else 0.0
            m = Measurement(scenario, subject, events, secs, None,
                            {"parallelism": self.p, "job start s": round(
                                res["wall_s"] - (res["tasks_s"] or res["job_s"]), 1)})
            restarts = job_restarts(res["job_id"])  # the cluster keeps the finished job
            if restarts is not None:
                m.extra[RESTARTS] = restarts
        except Exception as exc:  # noqa: BLE001
            m = Measurement(scenario, subject, 0, 0.0, False, {"error": str(exc)[-300:]})
        self._add_ceiling(m, reference)

    def _add_ceiling(self, m: Measurement, reference: Measurement | None = None) -> None:
        self.r.measurements.append(m)
        drain = reference or self.drain
        if drain is not None and m.events_per_s > 0:
            rep.add_ratio(drain, m, f"of {m.subject}")
        self.say(f"    {m.subject}: {m.events:,} in {m.seconds:.1f}s = {m.events_per_s:,.0f}/s")

    def _peers(self, backlog) -> None:
        from local_stack.cassandra import connect
        from tools import verify
        from tools.bench import peer, quix_venv

        s = backlog.run.s
        expected = backlog.truth.expected()
        peers = [("kafka-python + fastavro + dict + cassandra-driver", "kafka-python")]
        if self.z.quix:
            peers.append(("Quix Streams 3 (tumbling window, RocksDB state)", "quix"))
        else:
            self.r.notes.append("Quix Streams peer: not run in --quick mode.")
        for subject, which in peers:
            ks = f"peer_{which.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
            self.say(f"[3 peer] {subject} on the same {backlog.truth.messages:,} messages "
                     f"(keyspace {ks})")
            progress = self._every(10, lambda n, total=backlog.truth.messages:
                                   self.say(f"    {n:,}/{total:,} consumed"))

            try:
                args = (s.bootstrap, s.likes_topic, s.gifts_topic, list(s.cassandra_hosts), ks,
                        s.window_ms, backlog.truth.messages, progress)
                if which == "kafka-python":
                    res = peer.run_kafka_python_peer(*args)
                else:
                    try:
                        res = quix_venv.run_quix_peer(*args, timeout_s=QUIX_LIMIT_S)
                    except RuntimeError as exc:
                        if "killed after" not in str(exc):
                            raise
                        self.r.notes.append(
                            f"{subject} did not finish the {backlog.truth.messages:,} messages "
                            f"in {QUIX_LIMIT_S:.0f} s: below "
                            f"{backlog.truth.messages / QUIX_LIMIT_S:,.0f} events/s.")
                        raise
                if res is None:
                    self.r.notes.append(f"{subject}: its virtual environment could not be "
                                        "installed here; not measured.")
                    continue
                with connect(list(s.cassandra_hosts)) as session:
                    report = verify.compare(expected, verify.snapshot(session, ks))
                    m = Measurement("3 Python peer", subject, res.messages, res.seconds,
                                    report.exact, {"rows written": res.rows_written})
                    if not report.exact:
                        m.extra["wrong"] = report.summary()[:300]
                    session.execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)
            except Exception as exc:  # noqa: BLE001
                m = Measurement("3 Python peer", subject, 0, 0.0, False, {"error": str(exc)[-300:]})
            self.r.measurements.append(m)
            if self.drain is not None:
                rep.add_ratio(self.drain, m, f"x {which} peer")
            self.say(f"    {subject}: {m.events_per_s:,.0f}/s, exact: {m.exact}"
                     + (f" ({m.extra['error']})" if "error" in m.extra else ""))

    def latency(self) -> None:
        for rate in self.z.latency_rates:
            self.say(f"[4 latency] {rate:,} events/s for {self.z.latency_s:.0f}s over "
                     f"{self.z.latency_rooms:,} rooms, 1 s windows")
            res = run_latency(rate, self.z.latency_s, self.p, rooms=self.z.latency_rooms,
                              warmup_s=self.z.latency_warmup_s, extra_args=self.job_args,
                              progress=self.say)
            p = percentiles(res.samples)
            budget = latency_budget(res.bundle_ms, res.flush_ms, res.gauges, res.samples)
            self.r.latency.append(LatencyPoint(rate, res.achieved_rate, len(res.samples),
                                               p["p50_ms"], p["p95_ms"], p["p99_ms"], res.exact,
                                               res.restarts, budget, res.keeps_up(),
                                               max(res.lag_records, default=None)))
            if res.error:
                self.r.notes.append(f"latency at {rate:,}/s: {res.error}")

    def failure(self) -> None:
        """Latency through a TaskManager kill -9 at 5,000 events/s with the job's 60 s
        windows: the kill a third into the measurement, restarted at once."""
        if not self.z.failure_s:
            return
        rate, kill_at = 5_000, self.z.failure_s / 3
        self.say(f"[4 failure] {rate:,} events/s for {self.z.failure_s:.0f}s over "
                 f"{self.z.latency_rooms:,} rooms, 60 s windows, TaskManager kill -9 at "
                 f"{kill_at:.0f}s")
        res = run_latency(rate, self.z.failure_s, self.p, rooms=self.z.latency_rooms,
                          warmup_s=self.z.latency_warmup_s, extra_args=self.job_args,
                          window_ms=60_000, kill_at_s=kill_at, progress=self.say)
        p = percentiles(res.samples)
        point = FailurePoint(rate, self.z.failure_s, len(res.samples), p["p50_ms"],
                             p["p95_ms"], p["p99_ms"], res.max_ms(), res.longest_freeze_s(),
                             res.settle_s(0.0),
                             res.settle_s(res.killed_at) if res.killed_at is not None
                             else None, res.checkpoints, res.exact, res.restarts)
        self.r.failure.append(point)
        self.say(f"  through the kill: p50 {point.p50_ms or 0:.0f} ms, p99 "
                 f"{point.p99_ms or 0:.0f} ms, max {point.max_ms or 0:.0f} ms, longest freeze "
                 f"{point.longest_freeze_s or 0:.1f} s, settled {point.settle_from_start_s} s "
                 f"after the start and {point.settle_after_kill_s} s after the kill, "
                 f"{point.checkpoints} checkpoints")
        if res.error:
            self.r.notes.append(f"latency through a failure: {res.error}")

    def hot_room(self) -> None:
        if not self.z.hot_events:
            self.r.notes.append("Hot room: not run in --quick mode.")
            return
        out = {}
        for dist in ("uniform", "hot"):
            shape = Shape(self.z.hot_events, self.z.hot_rooms, dist, seed=2, spread_ms=60_000)
            self.say(f"[5 hot room] {dist}: {shape.events:,} events over {shape.rooms:,} rooms")
            backlog = produce_backlog(shape, self.p, extra_args=self.job_args,
                                      progress=self.say)
            try:
                d = run_drain(backlog, progress=self.say)
            finally:
                backlog.run.drop()
            label = "50% to one room" if dist == "hot" else "uniform rooms"
            out[dist] = self._drain_measurement("5 hot room", f"job, {label}", d)
            self.r.measurements.append(out[dist])
        rep.add_ratio(out["hot"], out["uniform"], "of uniform")

    def scale(self) -> None:
        if not self.z.scale_rooms:
            self.r.notes.append("Scale of state: not run in --quick mode.")
            return
        # one like per room: the state and the tables hold every room, nothing else
        shape = Shape(self.z.scale_rooms, self.z.scale_rooms, "each", seed=3, gift_share=0.0,
                      dup_rate=0.0, invalid_rate=0.0, spread_ms=10_000)
        self.say(f"[6 scale] one like in each of {shape.rooms:,} rooms")
        backlog = produce_backlog(shape, self.p, extra_args=self.job_args, progress=self.say)
        try:
            d = run_drain(backlog, progress=self.say)
        finally:
            backlog.run.drop()
        m = self._drain_measurement("6 scale of state", f"job, {shape.rooms:,} rooms", d)
        self.r.measurements.append(m)
        cp, mem = d.checkpoints, d.memory
        state = cp.get("latest_state_bytes") or 0
        self.r.scale = {
            "rooms": shape.rooms, "events": d.messages, "exact": str(d.exact),
            "checkpoints completed": cp.get("completed", 0),
            "last checkpoint duration ms": cp.get("latest_duration_ms") or 0,
            "max checkpoint duration ms": cp.get("max_duration_ms") or 0,
            "checkpointed state bytes (full)": state,
            "last incremental checkpoint bytes": cp.get("latest_checkpointed_bytes") or 0,
            "state bytes per room": round(state / shape.rooms, 1) if state else 0,
            "TaskManager heap used bytes": mem.get("heap_bytes", 0),
            "TaskManager managed memory used bytes": mem.get("managed_bytes", 0),
            "Python workers RSS bytes": mem.get("python_rss_bytes", 0),
        }

    def producer(self) -> None:
        from jobs.counters.ops.provision import provision
        from jobs.counters.settings import Settings
        from tools.bench.producer_bench import run_producer_bench

        suffix = uuid.uuid4().hex[:8]
        s = Settings.parse(["--likes-topic", f"bench.prod.likes.{suffix}",
                            "--gifts-topic", f"bench.prod.gifts.{suffix}",
                            "--dlq-topic", f"bench.prod.dlq.{suffix}",
                            "--keyspace", f"bench_prod_{suffix}"])
        provision(s)
        try:
            for merge in (True, False):
                self.say(f"[7 producer] {'with' if merge else 'without'} merging of likes, "
                         f"{self.z.producer_s:.0f}s")
                m = run_producer_bench(s.bootstrap, s.likes_topic, s.gifts_topic,
                                       self.z.producer_s, merge)
                self.r.producer.append(m)
                self.say(f"    {m.events_per_s:,.0f} calls/s, exact: {m.exact}")
        finally:
            from kafka.admin import KafkaAdminClient

            from local_stack.cassandra import connect
            admin = KafkaAdminClient(bootstrap_servers=s.bootstrap)
            try:
                admin.delete_topics([s.likes_topic, s.gifts_topic, s.dlq_topic])
            finally:
                admin.close()
            with connect(list(s.cassandra_hosts)) as session:
                session.execute(f"DROP KEYSPACE IF EXISTS {s.keyspace}", timeout=120)

    def analysis(self) -> None:
        add_analysis(self.r)

    def targets(self) -> None:
        """The per-event path's targets (live platform, the job without its sink, the long
        tail against Cassandra and the kafka-python peer, keeping up live), latency at
        20,000 events/s and the hot room."""
        ms = self.r.measurements
        platform = self.platform_drain
        if platform is not None:
            v = platform.events_per_s if platform.counts else 0.0
            self.r.targets.append(Target("live-platform drain", f">= {PLATFORM_TARGET:,} events/s",
                                         f"{v:,.0f} events/s", v >= PLATFORM_TARGET))
        sinkless = next((m for m in ms if m.subject == PLATFORM_TRUTHS and m.events_per_s),
                        None)
        if sinkless is not None:
            v = sinkless.events_per_s
            self.r.targets.append(Target("the job without its sink (truths -> blackhole)",
                                         f">= {SINKLESS_TARGET:,} events/s",
                                         f"{v:,.0f} events/s", v >= SINKLESS_TARGET))
        store = next((m for m in ms if m.subject.startswith("Cassandra counter rows")
                      and m.events_per_s), None)
        drain = self.drain
        if drain is not None and store is not None and drain.seconds:
            rows = float(drain.extra.get("rows written", 0) or 0) / drain.seconds
            r = rows / store.events_per_s if drain.counts else 0.0
            self.r.targets.append(Target(
                "long-tail drain: counter rows/s vs Cassandra's ceiling", ">= 0.7x",
                f"{r:.2f}x ({rows:,.0f} of {store.events_per_s:,.0f} rows/s)", r >= 0.7))
        if drain is not None:
            peer_ratio = next((v for k, v in drain.ratios() if k == "x kafka-python peer"), None)
            if peer_ratio is not None:
                ok = isinstance(peer_ratio, float) and peer_ratio >= 5
                text = f"{peer_ratio:.2f}x" if isinstance(peer_ratio, float) else str(peer_ratio)
                self.r.targets.append(Target("long tail vs the kafka-python peer", ">= 5x",
                                             text, ok))
        for rate in KEEP_UP_RATES:
            lat = next((p for p in self.r.latency if p.rate == rate), None)
            if lat is not None:
                self.r.targets.append(Target(
                    f"keeps up with {rate:,} events/s live", "lag bounded, >= 0.98x offered",
                    f"{'yes' if lat.keeps_up else 'no'} (achieved {lat.achieved_rate:,.0f}/s, "
                    f"largest lag {lat.max_lag or 0:,.0f} records)",
                    bool(lat.keeps_up and lat.exact)))
        lat = next((p for p in self.r.latency if p.rate == 20_000), None)
        if lat is not None:
            p99 = lat.p99_ms
            self.r.targets.append(Target("p99 produce -> visible at 20,000 events/s",
                                         "<= 1,500 ms", f"{p99:,.0f} ms" if p99 else "no samples",
                                         bool(p99 and p99 <= 1500 and lat.exact)))
        hot = next((m for m in ms if m.scenario == "5 hot room" and "one room" in m.subject),
                   None)
        if hot is not None:
            r = next((v for k, v in hot.ratios() if k == "of uniform"), None)
            ok = isinstance(r, float) and r >= 0.8
            self.r.targets.append(Target("hot room vs uniform", ">= 0.8x",
                                         f"{r:.2f}x" if isinstance(r, float) else str(r), ok))


def add_analysis(result: BenchResult) -> None:
    """Notes computed from the figures: what bounds the drains (idempotent: a note from an
    earlier render is replaced)."""
    result.notes[:] = [n for n in result.notes if not n.startswith(
        ("What bounds the drain", "What bounds the live platform"))]
    ms = result.measurements
    platform_note = platform_stages_note(ms)
    if platform_note:
        result.notes.append(platform_note)
    store = next((m for m in ms if m.subject.startswith("Cassandra counter rows")), None)
    d = next((m for m in ms if m.scenario == "1 backlog drain"), None)
    if d is None or store is None or not d.seconds or not store.events_per_s:
        return
    written = float(d.extra.get("rows written", 0) or 0)
    read = float(d.extra.get("rows read", 0) or 0)
    rows = float(d.extra.get("counter rows", 0) or 0)
    flink = next((m for m in ms if m.subject == "Flink Kafka source -> blackhole"
                  and m.events_per_s), None)
    faster = flink.events_per_s / d.events_per_s if flink and d.events_per_s else 0.0
    stages = result.stages.get(f"{d.scenario}: {d.subject}") or []
    busiest = max(stages, key=lambda st: st[1], default=None)
    if busiest is not None and busiest[1] >= 500:
        bound = (f"The busiest task sets the pace: {busiest[0]} (busy {busiest[1]:.0f} ms/s, "
                 "see \"Where the time goes\"), not Cassandra")
    else:
        bound = ("No task is busy most of the time (see \"Where the time goes\"): the tasks, "
                 "Kafka and Cassandra share the two cores")
    result.notes.append(
        f"What bounds the drain: the job filled {rows:,.0f} counter rows for {d.events:,} "
        f"events ({rows / max(d.events, 1):.2f} rows an event), writing {written:,.0f} rows "
        f"({written / max(rows, 1):.1f} writes a row) and reading {read:,.0f} (each row once, "
        f"before its first write) in {d.seconds:.0f} s: {written / d.seconds:,.0f} row "
        f"writes/s and {read / d.seconds:,.0f} row reads/s, "
        f"{written / d.seconds / store.events_per_s:.2f}x of the {store.events_per_s:,.0f} row "
        "writes/s Cassandra takes alone here from one client in the same batches (the "
        "ceiling above, with nothing else running). " + bound
        + (f"; Flink reads the same backlog {faster:.0f}x faster into a blackhole."
           if faster else "."))


def platform_stages_note(ms: list[Measurement]) -> str | None:
    """The live platform's stages as time per event: each stage's share is the difference
    between the rates with and without it (the machine's time per event, both cores), and
    the job without its sink is the most any sink could give."""
    drain = next((m for m in ms if m.scenario == "0 live-platform drain" and m.counts), None)
    stages = {m.subject: m.events_per_s for m in ms if m.scenario == "0 stage"
              and m.events_per_s}
    chain = [PLATFORM_SOURCE, PLATFORM_DECODE, PLATFORM_TRUTHS]
    if drain is None or not drain.events_per_s or any(s not in stages for s in chain):
        return None
    us = [1e6 / stages[s] for s in chain] + [1e6 / drain.events_per_s]
    sinkless = stages[PLATFORM_TRUTHS]
    parts = [f"reading {us[0]:.1f}", f"the decode {us[1] - us[0]:.1f}",
             f"dedup and aggregation {us[2] - us[1]:.1f}", f"the sink {us[3] - us[2]:.1f}"]
    pythons = [(name, 1e6 / stages[subject] - us[0]) for name, subject in (
        ("vectorized", PLATFORM_DECODE_PY), ("row at a time in thread mode",
                                             PLATFORM_DECODE_PY_THREAD)) if subject in stages]
    python = ("" if not pythons else " The same decode in Python takes "
              + ", ".join(f"{v:.1f} µs ({name})" for name, v in pythons)
              + f": the JVM decoder is {min(v for _, v in pythons) / (us[1] - us[0]):.1f}x "
              "the best of them.")
    return (f"What bounds the live platform: per event, the machine spends {us[3]:.1f} µs "
            f"(both cores; 1 / events/s) in the whole job, of which {', '.join(parts)} "
            "(each the difference between the job's stages run alone on the same backlog, "
            "see \"0 stage\"). Without its sink the job reaches "
            f"{sinkless:,.0f} events/s, {sinkless / drain.events_per_s:.2f}x the whole job: "
            "the most any sink could give." + python)


def run(sizes: Sizes, parallelism: int, only: tuple[str, ...], command: str,
        progress: Callable[[str], None], mode: str,
        job_args: tuple[str, ...] = ()) -> BenchResult:
    paths = StackPaths.from_env()
    t0 = time.monotonic()
    result = BenchResult(mode=mode, command=command,
                         started=time.strftime("%Y-%m-%dT%H:%M:%S%z"), duration_s=0.0,
                         machine=machine(), versions=versions(paths))
    suite = Suite(sizes, parallelism, only, progress, result, job_args)
    if job_args:
        result.notes.append(f"The counting jobs ran with: {' '.join(job_args)}")
    steps = [("live platform", {"platform"}, suite.platform),
             ("drain, ceilings, peers", {"drain", "ceilings", "peer"}, suite.backlog_scenarios),
             ("latency", {"latency"}, suite.latency),
             ("hot room", {"hot"}, suite.hot_room),
             ("scale", {"scale"}, suite.scale), ("producer", {"producer"}, suite.producer),
             # last: after its TaskManager kill, Flink's REST API served no task metrics of
             # the next jobs (the drains' progress reads them), though Prometheus did
             ("latency through a failure", {"failure"}, suite.failure)]
    for name, wanted, step in steps:
        if not wanted & set(only):
            continue
        try:
            step()
        except Exception as exc:
            log.exception("scenario %s failed", name)
            progress(f"[{name}] FAILED: {type(exc).__name__}: {exc}")
            result.notes.append(f"Scenario {name} failed: {type(exc).__name__}: {exc}")
            result.measurements.append(Measurement(name, "scenario failed", 0, 0.0, False,
                                                   {"error": str(exc)[:300]}))
    suite.analysis()
    suite.targets()
    result.duration_s = time.monotonic() - t0
    return result


def with_events(sizes: Sizes, events: int | None, rooms: int | None,
                rates: tuple[int, ...] = (), platform_events: int | None = None,
                platform_rooms: int | None = None) -> Sizes:
    out = sizes
    if platform_events:
        out = replace(out, platform_events=platform_events)
    if platform_rooms:
        out = replace(out, platform_rooms=platform_rooms)
    if rates:
        out = replace(out, latency_rates=rates)
    if events:
        out = replace(out, drain_events=events)
    if rooms:
        out = replace(out, rooms=rooms)
    return out


__all__ = ["SCENARIOS", "Sizes", "run", "with_events", "REPO_ROOT"]
