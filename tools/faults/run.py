"""One run of the fault harness: the job it submits, resumes and waits for, and the faults it
injects into the real processes (by PID: SIGKILL, SIGSTOP/SIGCONT, restarts the way a
supervisor would)."""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from jobs.counters.settings import Settings
from local_stack.flink import (
    FlinkService,
    JobFailed,
    counting_job,
    kill_taskmanager,
    latest_checkpoint,
    rest_get,
    start_taskmanager,
    stop_with_savepoint,
    submit_detached,
    wait_all_running,
)
from local_stack.paths import StackPaths
from local_stack.process import ManagedProcess, python_workers_under, still_running
from local_stack.profiles import SINGLE, Profile
from tools.faults.monitor import Monitor
from tools.faults.report import Fault
from tools.workload import Workload

log = logging.getLogger(__name__)


PARALLELISM = 2


class Stack(Protocol):
    """What a run drives besides its job: the local stack's services (the harness)."""

    paths: StackPaths
    services: dict[str, Any]
    flink: FlinkService
    progress: Callable[[str], None]

    def up(self, *names: str) -> None: ...


class HarnessError(RuntimeError):
    """The harness could not drive the run (not a verdict on the job)."""


class Run:
    """One scenario run: its names, workload, job, monitor, and the faults it injects."""

    def __init__(self, harness: Stack, scenario: str, seed: int, wl: Workload | None,
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
        # (PID, start time) of the Python workers of the TaskManagers the harness killed
        self.orphan_candidates: list[tuple[int, str]] = []
        self._tm_lock = threading.Lock()  # held while the harness kills one itself
        self._supervising = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="tm-supervisor",
                                            daemon=True)

    def workers_left(self, grace_s: float = 10) -> list[str]:
        """The Python workers of killed TaskManagers still running after ``grace_s`` more
        seconds; they are killed then (so that they do not disturb the next run)."""
        deadline = time.monotonic() + grace_s
        left = [w for w in self.orphan_candidates if still_running(*w)]
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = [w for w in left if still_running(*w)]
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return [str(pid) for pid, _ in left]

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
        label = "taskmanager" if len(tms) == 1 else tm.name.removeprefix("flink-")
        with self._tm_lock:
            pid = tm.pid()
            if pid is not None:  # its Python workers must end with it
                self.orphan_candidates += python_workers_under(pid)
            t, healed = kill_taskmanager(tm, self.h.paths)
            self.say(f"kill -9 {label}; {self.status()}")
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
        version from it: docs/upgrading.md, steps 1 and 2."""
        old = self.version_root.name if self.version_root else "this checkout"
        self._via_savepoint(f"upgrade {old} -> this checkout via savepoint", self.parallelism,
                            None)

    def rescale_via_savepoint(self, parallelism: int) -> None:
        """Stop the job with a savepoint and start it from there at ``parallelism``."""
        self._via_savepoint(f"savepoint, parallelism {self.parallelism} -> {parallelism}",
                            parallelism, self.version_root)


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
