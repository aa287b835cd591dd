"""The fault-injection harness: runs the counting job on the local standalone Flink cluster,
feeds it a seeded workload at a steady rate, injects faults into the real processes, and
checks the counter tables and the dead-letter topic against the workload's ground truth.

A run (one scenario, one seed):

1. fresh topics and keyspace;
2. the job submitted with ``flink run`` at parallelism 2; once it runs, the workload
   (``tools.workload``, stamped from then on) and its oracle; a producer thread sends the
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
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

from jobs.counters.ops.provision import provision
from jobs.counters.settings import Settings
from local_stack import stack
from local_stack.flink import (
    FlinkService,
    cancel,
    export_version,
    rest_get,
)
from local_stack.paths import StackPaths
from local_stack.process import StackError
from local_stack.profiles import PROFILES, SINGLE, Profile
from tools import verify
from tools.faults.monitor import thin
from tools.faults.report import RunResult, counted_between, freeze_times, recovery_times
from tools.faults.run import HarnessError, Run
from tools.workload import MAX_MESSAGE_BYTES, Workload, generate, produce

log = logging.getLogger(__name__)


def workload_for(s: Settings, seed: int, events: int, rooms: int, produce_s: float = 0,
                 **workload) -> Workload:
    """The seeded workload of one run, its expected rows in the windows of the job that
    counts it (``s``: the job's settings, ``--window-ms`` included), sent from now over
    ``produce_s`` seconds: an on-time event carries the time it is due to be sent, so a job
    that keeps up sees live events (stamped at the start, the last ones would arrive minutes
    old, and the job would take itself to be behind)."""
    return generate(seed, events, rooms, int(time.time() * 1000), window_ms=s.window_ms,
                    span_ms=int(produce_s * 1000), **workload)


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
        # the workload is generated once the job runs (workload_for: stamped from then on)
        run = Run(self, scenario, seed, None, job_args, rate=0.0, profile=profile)
        result = RunResult(scenario, seed, 0, 0, 0, 0, max_restarts=max_restarts)
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
            run.wl = wl = workload_for(s, seed, events, rooms, produce_s, **workload)
            run.rate = len(wl.messages) / produce_s
            result.messages, result.counted_sent = len(wl.messages), wl.counted
            result.duplicates_sent, result.invalid_sent = wl.duplicates, wl.invalid
            run.say(f"{len(wl.messages):,} messages ({wl.counted:,} to count, "
                    f"{wl.duplicates:,} duplicates, {wl.invalid:,} invalid) at "
                    f"{run.rate:,.0f}/s; keyspace {s.keyspace}")
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
                except Exception:  # noqa: BLE001 - already gone (a JobManager kill, a savepoint stop)
                    pass
        result.workers_left = run.workers_left()
        result.faults = run.faults
        recoveries = recovery_times(run.faults, run.monitor.samples)
        for f, rec, freeze in zip(run.faults, recoveries,
                                  freeze_times(run.faults, run.monitor.samples, recoveries),
                                  strict=True):
            f.recovery_s, f.freeze_s = rec, freeze
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
        except BaseException as exc:  # noqa: BLE001 - reported by the run
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
        except Exception as exc:  # noqa: BLE001 - cleanup only
            log.warning("cleanup of %s: %s", s.keyspace, exc)
