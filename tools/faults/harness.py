"""The fault-injection harness: runs the counting job on the local standalone Flink cluster,
feeds it a seeded workload at a steady rate, injects faults into the real processes, and
checks the counter tables and the dead-letter topic against the workload's ground truth.

A run (one scenario, one seed):

1. fresh topics and keyspace; the workload (``tools.workload``) and its oracle;
2. the job submitted with ``flink run`` at parallelism 2; a producer thread sends the
   workload at a fixed rate; a monitor thread samples the counted events in Cassandra every
   0.5 s (for recovery times) and Flink's restart count every 2 s;
3. the scenario injects its faults (``tools.faults.scenarios``) while events flow;
4. once everything is produced, wait until every counter row equals the oracle (or time
   out), then read the dead-letter topic (read_committed) and compare it with the invalid
   messages sent.

Faults act on processes by PID (``local_stack``): SIGKILL, SIGSTOP/SIGCONT, and restarts the
way a supervisor would. Nothing of the job is mocked or told about the faults.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
import urllib.error
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jobs.counters.provision import provision
from jobs.counters.settings import Settings
from local_stack import stack
from local_stack.flink import (
    FlinkService,
    JobFailed,
    cancel,
    counting_job,
    export_version,
    job_restarts,
    latest_checkpoint,
    rest_get,
    start_taskmanager,
    stop_with_savepoint,
    submit_detached,
    wait_all_running,
)
from local_stack.paths import StackPaths
from local_stack.process import ManagedProcess, StackError
from local_stack.profiles import PROFILES, SINGLE, Profile
from tools import verify
from tools.faults.report import Fault, RunResult, counted_between, recovery_times
from tools.workload import MAX_MESSAGE_BYTES, Workload, generate, produce

log = logging.getLogger(__name__)

PARALLELISM = 2


class HarnessError(RuntimeError):
    """The harness could not drive the run (not a verdict on the job)."""


@dataclass
class Monitor:
    """Samples what the job has counted, from outside: the sum of ``room_totals.events``
    (every 0.5 s) and the current job's restarts (every 2 s, ``job_restarts``)."""

    hosts: list[str]
    keyspace: str
    job_ids: Callable[[], list[str]]
    port: int = 9042
    samples: list[tuple[float, int]] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)  # failed samples, by exception type

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # (not started when the run failed before counting)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        from cassandra import ConsistencyLevel
        from cassandra.query import SimpleStatement

        from connectors.cassandra_counters import connect_cluster

        cluster = session = None
        # read as the sink writes: a quorum of replicas (one node of a ring may be down)
        query = SimpleStatement(f"SELECT events FROM {self.keyspace}.room_totals",
                                consistency_level=ConsistencyLevel.LOCAL_QUORUM)
        last_rest = 0.0
        try:
            while not self._stop.is_set():
                t = time.monotonic()
                try:
                    if session is None:  # (again) after Cassandra was down
                        if cluster is not None:
                            cluster.shutdown()
                        cluster = connect_cluster(self.hosts, self.port, connect_timeout=2)
                        session = cluster.connect()
                    total = sum(r.events or 0 for r in session.execute(query, timeout=5))
                    self.samples.append((t, total))
                except Exception as exc:  # Cassandra paused or down: a gap in the samples
                    # (a session reconnects by itself; a failed connect shut its cluster down)
                    self.errors[type(exc).__name__] += 1
                    log.debug("monitor: %s", exc)
                if t - last_rest >= 2:
                    last_rest = t
                    self._poll_restarts()
                self._stop.wait(max(0.0, 0.5 - (time.monotonic() - t)))
        finally:
            if cluster is not None:
                cluster.shutdown()

    def _poll_restarts(self, timeout: float = 2) -> bool:
        ids = self.job_ids()
        if not ids:
            return False
        try:
            n = job_restarts(ids[-1], timeout=timeout)
        except Exception as exc:  # the JobManager is down, restarting or busy
            log.debug("monitor: restarts: %s", exc)
            return False
        if n is None:
            return False
        self.restarts[ids[-1]] = max(self.restarts.get(ids[-1], 0), n)
        return True

    def final_restarts(self, attempts: int = 10) -> None:
        """Read the current job's restart count until the metric store answers (its first
        answer after a while is often empty), with a patient timeout."""
        for _ in range(attempts):
            if self._poll_restarts(timeout=10):
                return
            time.sleep(1)

    def counted(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def moving_after(self, t0: float) -> bool:
        """Did the count grow after ``t0`` (above the last sample taken before it)?"""
        before = [v for t, v in self.samples if t < t0]
        base = before[-1] if before else None
        after = [v for t, v in self.samples if t >= t0]
        if base is None:
            return len(after) >= 2 and after[-1] > after[0]
        return bool(after) and after[-1] > base

    def wait_moving(self, after: float, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.moving_after(after):
                return True
            time.sleep(0.25)
        return False


class Run:
    """One scenario run: its names, workload, job, monitor, and the faults it injects."""

    def __init__(self, harness: Harness, scenario: str, seed: int, wl: Workload,
                 job_args: list[str], rate: float, profile: Profile = SINGLE) -> None:
        self.h, self.scenario, self.seed = harness, scenario, seed
        self.profile = profile
        self.wl, self.job_args, self.rate = wl, job_args, rate
        self.s = settings = Settings.parse(job_args)
        self.rnd = random.Random(seed * 7919 + 13)
        self.job_ids: list[str] = []
        self.parallelism = PARALLELISM
        self.faults: list[Fault] = []
        self.resubmissions = 0
        # the tree of the version the job runs (None: this checkout); an upgrade moves on
        self.version_root: Path | None = None
        self.monitor = Monitor(list(settings.cassandra_hosts), settings.keyspace,
                               lambda: self.job_ids, settings.cassandra_port)
        self.sent = 0
        self.produce_error: BaseException | None = None
        self.t0 = time.monotonic()
        # TaskManagers that exited without being killed by the harness, restarted by it
        self.exits: list[str] = []
        self._tm_lock = threading.Lock()  # held while the harness kills one itself
        self._supervising = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="tm-supervisor",
                                            daemon=True)

    # --- the supervisor --------------------------------------------------------------------

    def start_supervisor(self) -> None:
        self._supervising.set()
        self._supervisor.start()

    def stop_supervisor(self) -> None:
        self._supervising.clear()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=10)

    def _supervise(self) -> None:
        """Restart a TaskManager that exits on its own, as Kubernetes or systemd would on a
        cluster (a fatal error in the JVM ends the process), and record it: the run goes on
        and its report says so, instead of the job waiting for slots until its time is up."""
        while self._supervising.is_set():
            time.sleep(1.0)
            if not self._tm_lock.acquire(blocking=False):
                continue  # the harness is killing (and will restart) one itself
            try:
                for tm in self.taskmanagers():
                    if self._supervising.is_set() and not tm.is_running():
                        label = tm.name.removeprefix("flink-")
                        self.exits.append(f"{label} at {time.monotonic() - self.t0:.0f} s")
                        self.say(f"{label} exited on its own (not killed by the harness): "
                                 f"restarting it; see {tm.console_log}")
                        start_taskmanager(tm, self.h.paths)
            except Exception as exc:  # noqa: BLE001 - never end the run from here
                log.warning("supervisor: %s", exc)
            finally:
                self._tm_lock.release()

    # --- reporting -------------------------------------------------------------------------

    def say(self, msg: str) -> None:
        self.h.progress(f"[{self.scenario} seed {self.seed} {time.monotonic() - self.t0:5.0f}s] "
                        f"{msg}")

    def status(self) -> str:
        return (f"produced {self.sent:,}/{len(self.wl.messages):,}, counted "
                f"{self.monitor.counted():,}/{self.wl.counted:,}")

    # --- the job ---------------------------------------------------------------------------

    def submit(self, restore_from: str | None = None) -> str:
        # A job resumed from a checkpoint or savepoint follows one on the same keyspace: it
        # waits for the old job's writer lease (after a JobManager loss the old job's tasks
        # run on, and renew it, until their TaskManager notices: heartbeat.timeout), as two
        # jobs must never write the same rows.
        extra_args = ["--lease-wait-ms", "90000"] if restore_from else []
        root = self.version_root
        job_id = submit_detached(counting_job(root), [*self.job_args, *extra_args],
                                 parallelism=self.parallelism, restore_from=restore_from,
                                 paths=self.h.paths, root=root)
        self.job_ids.append(job_id)
        self.say(f"job {job_id} submitted at parallelism {self.parallelism}"
                 + (f" from {restore_from}" if restore_from else "")
                 + (f", version {root.name}" if root else ""))
        return job_id

    @property
    def job_id(self) -> str:
        return self.job_ids[-1]

    def job_state(self) -> str:
        try:
            return rest_get(f"/jobs/{self.job_id}", timeout=3)["state"]
        except (OSError, urllib.error.URLError):
            return "UNKNOWN"

    def wait_running(self, timeout_s: float = 120) -> None:
        """Until the job's tasks all run and the counters move."""
        try:
            if wait_all_running(self.job_id, timeout_s):
                return
        except JobFailed as exc:
            raise HarnessError(str(exc)) from None
        try:
            ov = rest_get("/overview", timeout=3)
            why = (f"; state {self.job_state()}, {ov['jobs-running']} jobs running, "
                   f"{ov['slots-available']}/{ov['slots-total']} slots free")
        except (OSError, urllib.error.URLError, KeyError):
            why = ""
        raise HarnessError(f"job {self.job_id} not running after {timeout_s:.0f}s{why}")

    def latest_checkpoint_time(self) -> float | None:
        """Wall-clock seconds of the latest completed checkpoint of the current job."""
        try:
            cp = rest_get(f"/jobs/{self.job_id}/checkpoints", timeout=3)
            latest = (cp.get("latest") or {}).get("completed")
            return latest["latest_ack_timestamp"] / 1000 if latest else None
        except (OSError, urllib.error.URLError, KeyError):
            return None

    # --- pacing ----------------------------------------------------------------------------

    def all_counted(self) -> bool:
        """Everything produced is counted: the counters have nothing left to move for."""
        return self.sent == len(self.wl.messages) and self.monitor.counted() >= self.wl.counted

    def settle_then(self, lo: float, hi: float, timeout_s: float = 180) -> None:
        """Wait until the counters moved since the last fault healed (unless everything is
        counted already: then there is nothing to move), then ``lo``..``hi`` s."""
        since = self.faults[-1].healed_at + 1 if self.faults else 0.0
        deadline = time.monotonic() + timeout_s
        while not self.monitor.wait_moving(since, 1.0):
            if self.all_counted():
                break
            if time.monotonic() >= deadline:
                self.say(f"warning: counters not moving {timeout_s:.0f}s after the last fault")
                break
        time.sleep(self.rnd.uniform(lo, hi))

    def after_write_before_checkpoint(self, timeout_s: float = 60) -> None:
        """Wait for a moment when the sink has written rows that no checkpoint covers yet:
        the counters grew after the latest completed checkpoint."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.all_counted():
            cp = self.latest_checkpoint_time()
            if cp is not None:
                # the checkpoint's time on the monotonic clock
                cp_mono = time.monotonic() - (time.time() - cp)
                if self.monitor.moving_after(cp_mono + 0.5):
                    return
            time.sleep(0.2)

    # --- faults ----------------------------------------------------------------------------

    def _record(self, what: str, injected: float, healed: float | None = None) -> Fault:
        """A fault, healed at ``healed`` (when the harness restarted or resumed what it broke;
        not when its own readiness check passed, which may be later than the job's recovery)."""
        f = Fault(what, injected, healed if healed is not None else time.monotonic())
        self.faults.append(f)
        return f

    def taskmanagers(self) -> list[ManagedProcess]:
        """The profile's TaskManager processes (one, or two in the replicated profile)."""
        svcs = self.h.services
        return [svcs[name].taskmanager for name in self.profile.taskmanagers]  # type: ignore

    def kill_taskmanager(self, wait_ready: bool = True) -> None:
        """kill -9 of a TaskManager (its Python workers lose their JVM; of two, one at
        random), then a new one, as a supervisor would start it."""
        tms = self.taskmanagers()
        tm = self.rnd.choice(tms) if len(tms) > 1 else tms[0]
        with self._tm_lock:
            t = time.monotonic()
            tm.signal(signal.SIGKILL)
            label = "taskmanager" if len(tms) == 1 else tm.name.removeprefix("flink-")
            self.say(f"kill -9 {label}; {self.status()}")
            _wait_gone(tm)
            healed = time.monotonic()
            start_taskmanager(tm, self.h.paths)
        if wait_ready:
            self.h.up(*self.profile.taskmanagers)
        self._record(f"kill -9 {label}", t, healed)

    def lose_member(self, kind: str, hold_s: float,
                    meanwhile: Callable[[], None] | None = None, only: str | None = None) -> None:
        """kill -9 of one member (at random, or ``only``) of the replicated profile's Kafka
        cluster (``kind`` "broker") or Cassandra ring ("cassandra"), down for ``hold_s`` s
        while the others serve; ``meanwhile`` runs (a second fault, or the end of one) 5-10 s
        into that. Then restarted."""
        names = self.profile.brokers if kind == "broker" else self.profile.cassandra_nodes
        name = only or self.rnd.choice(names)
        proc = self.h.services[name].processes[0]
        t = time.monotonic()
        proc.signal(signal.SIGKILL)
        self.say(f"kill -9 {name}, down for {hold_s:.0f}s; {self.status()}")
        _wait_gone(proc)
        if meanwhile is not None:
            time.sleep(self.rnd.uniform(5, 10))
            meanwhile()
        time.sleep(max(0.0, hold_s - (time.monotonic() - t)))
        healed = time.monotonic()
        self.h.up(name)
        self.say(f"{name} back; {self.status()}")
        self._record(f"kill -9 {name} ({healed - t:.0f}s down)", t, healed)

    def kill_jobmanager(self) -> None:
        """kill -9 of the JobManager. Without HA the job dies with it; the harness does what
        an operator would: start a JobManager and resubmit the job from its latest retained
        checkpoint."""
        flink = self.h.flink
        old = self.job_id
        t = time.monotonic()
        flink.jobmanager.signal(signal.SIGKILL)
        self.say(f"kill -9 jobmanager; {self.status()}")
        _wait_gone(flink.jobmanager)
        flink.start()  # the JobManager; resubmit as soon as it answers (the job waits for slots)
        _wait_rest()
        chk = latest_checkpoint(self.h.paths, old)
        if chk is None:
            raise HarnessError(f"no retained checkpoint of job {old} to resume from")
        self.resubmissions += 1
        self.submit(restore_from=chk)
        self._record("kill -9 jobmanager", t)

    def kill_kafka(self, hold_s: float) -> None:
        kafka = self.h.services["kafka"]
        t = time.monotonic()
        kafka.processes[0].signal(signal.SIGKILL)
        self.say(f"kill -9 kafka, down for {hold_s:.0f}s; {self.status()}")
        _wait_gone(kafka.processes[0])
        time.sleep(hold_s)
        healed = time.monotonic()
        self.h.up("kafka")
        self._record(f"kill -9 kafka ({hold_s:.0f}s down)", t, healed)

    def lose_counter_leader(self, pause_s: float, down_s: float) -> None:
        """Replicated profile: two of the three Cassandra nodes paused (SIGSTOP) for
        ``pause_s`` while the sink writes, so the third, the counter leader of every write it
        coordinates, applies increments it cannot pass on (the writes time out: in doubt);
        then it is killed (-9) with them, the two resume and serve, and it comes back after
        ``down_s`` with increments no other replica has."""
        nodes = list(self.profile.cassandra_nodes)
        leader = self.rnd.choice(nodes)
        paused = [self.h.services[n].processes[0] for n in nodes if n != leader]
        t = time.monotonic()
        for proc in paused:
            proc.signal(signal.SIGSTOP)
        self.say(f"SIGSTOP {', '.join(p.name for p in paused)} for {pause_s:.0f}s; "
                 f"{self.status()}")
        try:
            time.sleep(pause_s)
            self.lose_member("cassandra", down_s, only=leader,
                             meanwhile=lambda: self._resume(paused, t))
        finally:
            for proc in paused:
                if proc.is_running():
                    proc.signal(signal.SIGCONT)

    def _resume(self, paused: list[ManagedProcess], t: float) -> None:
        for proc in paused:
            proc.signal(signal.SIGCONT)
        self.say(f"SIGCONT {', '.join(p.name for p in paused)}")
        self._record(f"SIGSTOP {len(paused)} of 3 Cassandra nodes "
                     f"({time.monotonic() - t:.0f}s)", t)

    def pause_cassandra(self, hold_s: float) -> None:
        proc = self.h.services["cassandra"].processes[0]
        t = time.monotonic()
        proc.signal(signal.SIGSTOP)
        self.say(f"SIGSTOP cassandra for {hold_s:.0f}s; {self.status()}")
        try:
            time.sleep(hold_s)
        finally:
            proc.signal(signal.SIGCONT)
        self.say("SIGCONT cassandra")
        self._record(f"SIGSTOP cassandra ({hold_s:.0f}s)", t)

    def kill_cassandra(self) -> None:
        proc = self.h.services["cassandra"].processes[0]
        t = time.monotonic()
        proc.signal(signal.SIGKILL)
        self.say(f"kill -9 cassandra; {self.status()}")
        _wait_gone(proc)
        healed = time.monotonic()
        self.h.up("cassandra")
        self._record("kill -9 cassandra", t, healed)

    def _via_savepoint(self, label: str, parallelism: int, version_root: Path | None) -> None:
        """Stop the job with a savepoint, then submit ``version_root`` (None: this checkout)
        at ``parallelism`` from it; recorded as the fault ``label``."""
        t = time.monotonic()
        path = stop_with_savepoint(self.job_id, self.h.paths.savepoints)
        self.say(f"stopped with savepoint {path}; {self.status()}")
        self.parallelism, self.version_root = parallelism, version_root
        self.resubmissions += 1
        self.submit(restore_from=path)
        self._record(label, t)

    def upgrade_via_savepoint(self) -> None:
        """Stop the job (an earlier version) with a savepoint and start this checkout's
        version from it: README "Upgrading a running job", steps 1 and 2."""
        old = self.version_root.name if self.version_root else "this checkout"
        self._via_savepoint(f"upgrade {old} -> this checkout via savepoint", self.parallelism,
                            None)

    def rescale_via_savepoint(self, parallelism: int) -> None:
        """Stop the job with a savepoint and start it from there at ``parallelism``."""
        self._via_savepoint(f"savepoint, parallelism {self.parallelism} -> {parallelism}",
                            parallelism, self.version_root)


def workload_for(s: Settings, seed: int, events: int, rooms: int, **workload) -> Workload:
    """The seeded workload of one run, its expected rows in the windows of the job that
    counts it (``s``: the job's settings, ``--window-ms`` included)."""
    return generate(seed, events, rooms, int(time.time() * 1000), window_ms=s.window_ms,
                    **workload)


def thin(samples: list[tuple[float, int]], t0: float, every_s: float) -> list[tuple[float, int]]:
    """One sample per ``every_s`` seconds, times relative to ``t0``."""
    out: list[tuple[float, int]] = []
    for t, v in samples:
        if not out or t - t0 - out[-1][0] >= every_s:
            out.append((round(t - t0, 1), v))
    return out


def _wait_rest(timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            rest_get("/overview", timeout=2)
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.5)
    raise HarnessError(f"the JobManager's REST API did not answer within {timeout_s:.0f}s")


def _wait_gone(proc, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while proc.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)


class Harness:
    """Drives runs against the local stack (which it starts if needed)."""

    def __init__(self, paths: StackPaths | None = None,
                 progress: Callable[[str], None] = print) -> None:
        self.paths = paths or StackPaths.from_env()
        self.progress = progress
        self.services = stack.services(self.paths)
        self.flink: FlinkService = self.services["flink"]  # type: ignore[assignment]

    def up(self, *names: str) -> None:
        stack.up(list(names) or list(stack.ALL), self.paths,
                 progress=lambda m: log.info("stack: %s", m))

    def use(self, profile: Profile) -> None:
        """Start the profile's services; a TaskManager that is not the profile's stops (a
        run of the single profile has one TaskManager, as its scenarios assume)."""
        extra = [name for other in PROFILES.values() for name in other.taskmanagers
                 if name not in profile.taskmanagers]
        stack.down(extra, self.paths, progress=lambda m: log.info("stack: %s", m))
        self.up(*profile.services)

    def run(self, scenario: str, seed: int, events: int, produce_s: float,
            inject: Callable[[Run], None], rooms: int = 2_000,
            exact_timeout_s: float = 600, max_restarts: int | None = None,
            first_version: str | None = None, profile: Profile = SINGLE,
            **workload) -> RunResult:
        """One run of ``inject`` (the scenario's faults) over ``events`` messages produced
        over about ``produce_s`` seconds, on the local stack's ``profile``."""
        self.use(profile)
        suffix = uuid.uuid4().hex[:8]
        job_args = [
            *profile.job_args(),
            "--likes-topic", f"faults.likes.{suffix}", "--gifts-topic", f"faults.gifts.{suffix}",
            "--dlq-topic", f"faults.dlq.{suffix}", "--group-id", f"faults-{suffix}",
            "--keyspace", f"faults_{suffix}"]
        s = Settings.parse(job_args)
        provision(s, replication=profile.replication_factor,
                  min_insync_replicas=profile.min_insync_replicas,
                  topic_config={"max.message.bytes": str(MAX_MESSAGE_BYTES + 1024)})
        wl = workload_for(s, seed, events, rooms, **workload)
        run = Run(self, scenario, seed, wl, job_args, rate=len(wl.messages) / produce_s,
                  profile=profile)
        result = RunResult(scenario, seed, len(wl.messages), wl.counted, wl.duplicates,
                           wl.invalid, max_restarts=max_restarts)
        run.say(f"{len(wl.messages):,} messages ({wl.counted:,} to count, {wl.duplicates:,} "
                f"duplicates, {wl.invalid:,} invalid) at {run.rate:,.0f}/s; keyspace "
                f"{s.keyspace}")
        producer = threading.Thread(target=self._produce, args=(run,), name="producer",
                                    daemon=True)
        try:
            busy = [j["jid"] for j in rest_get("/jobs/overview")["jobs"]
                    if j["state"] not in ("FINISHED", "CANCELED", "FAILED")]
            if busy:
                raise HarnessError(f"the Flink cluster is running other jobs ({', '.join(busy)}):"
                                   " the harness needs its slots; cancel them first")
            if first_version:  # the run starts on an earlier version of the job
                run.version_root = export_version(first_version, self.paths)
            run.submit()
            run.wait_running()
            run.monitor.start()
            run.start_supervisor()
            started = time.monotonic()
            producer.start()
            if not run.monitor.wait_moving(started, 120):
                raise HarnessError("the counters did not move within 120 s of the start")
            inject(run)
            while producer.is_alive():
                producer.join(timeout=10)
                run.say(run.status())
            if run.produce_error is not None:
                raise HarnessError(f"producing failed: {run.produce_error!r}")
            run.say("all produced; waiting until the tables are exact")
            report = verify.wait_until_exact(list(s.cassandra_hosts), s.keyspace, wl.expected,
                                             exact_timeout_s,
                                             alive=lambda: run.job_state() != "FAILED",
                                             port=s.cassandra_port)
            result.seconds = time.monotonic() - started
            result.rooms_checked, result.rows_checked = report.rooms_checked, report.rows_checked
            result.rooms_wrong, result.rows_wrong = report.rooms_wrong, len(report.rows_wrong)
            result.events_lost = report.events_lost
            result.events_double_counted = report.events_double_counted
            result.wrong_rows = report.rows_wrong[:50]
            want = verify.digests(wl.expected.dead_letters)
            got = verify.dead_letter_digests(s.bootstrap, s.dlq_topic, expected=len(want))
            result.dlq_letters = len(got)
            result.dlq_missing = sum((Counter(want) - Counter(got)).values())
            result.dlq_extra = sum((Counter(got) - Counter(want)).values())
            run.monitor.final_restarts()
        except (HarnessError, StackError) as exc:
            result.error = str(exc)
            run.say(f"error: {exc}")
        finally:
            run.monitor.stop()
            run.stop_supervisor()
            for job_id in run.job_ids:
                try:
                    cancel(job_id)
                except Exception:  # already gone (a JobManager kill, a savepoint stop)
                    pass
        result.faults = run.faults
        for f, rec in zip(run.faults, recovery_times(run.faults, run.monitor.samples),
                          strict=True):
            f.recovery_s = rec
            f.counted_while_down = counted_between(run.monitor.samples, f.injected_at,
                                                   f.healed_at)
        result.restarts = sum(run.monitor.restarts.values())
        result.monitor_samples = len(run.monitor.samples)
        result.progress = thin(run.monitor.samples, run.t0, every_s=2.0)
        for f in run.faults:
            f.injected_at = round(f.injected_at - run.t0, 2)
            f.healed_at = round(f.healed_at - run.t0, 2)
        result.monitor_errors = dict(run.monitor.errors)
        result.resubmissions = run.resubmissions
        result.taskmanager_exits = run.exits
        run.say(result.summary())
        if result.exact:
            self._drop(s)
        return result

    def _produce(self, run: Run) -> None:
        def progress(sent: int) -> None:
            run.sent = sent

        try:
            produce(run.wl, run.s.bootstrap, run.s.likes_topic, run.s.gifts_topic,
                    rate=run.rate, progress=progress)
        except BaseException as exc:  # reported by the run
            run.produce_error = exc

    def _drop(self, s: Settings) -> None:
        """A passing run's keyspace and topics go; a failing run's stay for inspection."""
        from kafka.admin import KafkaAdminClient

        from local_stack.cassandra import connect

        try:
            with connect(list(s.cassandra_hosts), s.cassandra_port) as session:
                session.execute(f"DROP KEYSPACE IF EXISTS {s.keyspace}", timeout=60)
            admin = KafkaAdminClient(bootstrap_servers=s.bootstrap)
            try:
                admin.delete_topics([s.likes_topic, s.gifts_topic, s.dlq_topic])
            finally:
                admin.close()
        except Exception as exc:  # cleanup only
            log.warning("cleanup of %s: %s", s.keyspace, exc)
