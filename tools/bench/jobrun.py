"""One run of the counting job on the local standalone cluster, for the benchmarks: fresh
topics and keyspace, submission with ``flink run -py``, the job's metrics, checkpoint
statistics and a per-operator profile from Flink's REST API, and cleanup."""

from __future__ import annotations

import logging
import time
import urllib.error
import uuid
from dataclasses import dataclass, field

from jobs.counters.ops.provision import provision
from jobs.counters.settings import Settings
from local_stack.addresses import CASSANDRA_HOST, KAFKA_BOOTSTRAP
from local_stack.flink import (
    JobFailed,
    cancel,
    counting_job,
    job_metric_sums,
    job_restarts,
    rest_get,
    submit_detached,
    wait_all_running,
)
from local_stack.paths import StackPaths

log = logging.getLogger(__name__)

class BenchError(RuntimeError):
    """A benchmark run could not be carried out (not: it was slow or inexact)."""


@dataclass
class OperatorLoad:
    """Share of each second an operator chain spent busy / backpressured (max over
    subtasks) and the records it took in per second (sum over subtasks)."""

    name: str
    busy_ms_per_s: float
    backpressured_ms_per_s: float
    records_in_per_s: float = 0.0


@dataclass
class JobRun:
    """A counting job on its own topics and keyspace (``prefix`` names them)."""

    prefix: str
    parallelism: int
    extra_args: list[str] = field(default_factory=list)
    partitions: int = 4
    paths: StackPaths = field(default_factory=StackPaths.from_env)
    bootstrap: str = KAFKA_BOOTSTRAP
    hosts: tuple[str, ...] = (CASSANDRA_HOST,)
    job_id: str | None = None

    def __post_init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.args = [
            "--bootstrap", self.bootstrap, "--cassandra-hosts", ",".join(self.hosts),
            "--likes-topic", f"{self.prefix}.likes.{suffix}",
            "--gifts-topic", f"{self.prefix}.gifts.{suffix}",
            "--dlq-topic", f"{self.prefix}.dlq.{suffix}", "--group-id", f"{self.prefix}-{suffix}",
            "--keyspace", f"{self.prefix}_{suffix}", *self.extra_args]
        self.s = Settings.parse(self.args)

    def provision(self) -> None:
        provision(self.s, partitions=self.partitions)

    def submit(self) -> str:
        cluster_free()
        self.job_id = submit_detached(counting_job(), self.args, parallelism=self.parallelism,
                                      paths=self.paths)
        return self.job_id

    def job(self) -> dict:
        return rest_get(f"/jobs/{self.job_id}", timeout=5)

    def wait_running(self, timeout_s: float = 180) -> float:
        """Until every task runs; the monotonic time it was first seen so."""
        try:
            if wait_all_running(self.job_id, timeout_s, poll_s=0.2):
                return time.monotonic()
        except JobFailed:
            raise BenchError(f"job {self.job_id} failed while starting") from None
        raise BenchError(f"job {self.job_id} not running after {timeout_s:.0f}s")

    def restarts(self) -> int | None:
        """How often the job failed and restarted so far (``job_restarts``; None: not
        submitted, or the JobManager did not answer)."""
        return job_restarts(self.job_id, timeout=5) if self.job_id else None

    def metric_sums(self, names: list[str]) -> dict[str, float]:
        """User metrics (``events_counted`` ...) summed over subtasks and operators."""
        return job_metric_sums(self.job_id, names)

    def metric_max(self, names: list[str]) -> dict[str, float]:
        """User metrics (``persistence_delay_ms`` ...): the largest value of any subtask."""
        return job_metric_sums(self.job_id, names, agg="max")

    def operator_load(self) -> list[OperatorLoad]:
        """Busy and backpressured time of every operator chain right now: the bottleneck is
        the busy one whose upstream is backpressured."""
        out = []
        for v in self.job()["vertices"]:
            base = f"/jobs/{self.job_id}/vertices/{v['id']}/subtasks/metrics"
            got = rest_get(base + "?get=busyTimeMsPerSecond,backPressuredTimeMsPerSecond,"
                                  "numRecordsInPerSecond,numRecordsOutPerSecond")
            vals = {m["id"]: float(m.get("max", 0.0)) for m in got}
            sums = {m["id"]: float(m.get("sum", 0.0)) for m in got}
            # a source takes nothing in from Flink: its records out are what it read
            records = sums.get("numRecordsInPerSecond", 0.0) or sums.get(
                "numRecordsOutPerSecond", 0.0)
            out.append(OperatorLoad(v["name"][:80], vals.get("busyTimeMsPerSecond", 0.0),
                                    vals.get("backPressuredTimeMsPerSecond", 0.0), records))
        return out

    def checkpoints(self) -> dict:
        """Latest completed checkpoint: duration (ms), checkpointed size and full state size
        (bytes); averages over the run."""
        cp = rest_get(f"/jobs/{self.job_id}/checkpoints")
        latest = (cp.get("latest") or {}).get("completed") or {}
        summary = cp.get("summary") or {}
        return {
            "completed": (cp.get("counts") or {}).get("completed", 0),
            "latest_duration_ms": latest.get("end_to_end_duration"),
            "latest_checkpointed_bytes": latest.get("checkpointed_size"),
            "latest_state_bytes": latest.get("state_size"),
            "max_duration_ms": (summary.get("end_to_end_duration") or {}).get("max"),
            "avg_duration_ms": (summary.get("end_to_end_duration") or {}).get("avg"),
        }

    def taskmanager_memory(self) -> dict:
        """JVM heap and managed memory of the TaskManagers, plus the resident memory of the
        Python workers (children of the TaskManager, measured from /proc)."""
        heap = managed = 0.0
        for tm in rest_get("/taskmanagers")["taskmanagers"]:
            vals = {m["id"]: float(m["value"]) for m in rest_get(
                f"/taskmanagers/{tm['id']}/metrics?get=Status.JVM.Memory.Heap.Used,"
                "Status.JVM.Memory.NonHeap.Used,Status.Flink.Memory.Managed.Used")}
            heap += vals.get("Status.JVM.Memory.Heap.Used", 0.0)
            managed += vals.get("Status.Flink.Memory.Managed.Used", 0.0)
        return {"heap_bytes": heap, "managed_bytes": managed,
                "python_rss_bytes": float(python_workers_rss())}

    def cancel(self) -> None:
        if self.job_id:
            try:
                cancel(self.job_id)
            except (OSError, urllib.error.URLError):
                pass
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if self.job()["state"] in ("CANCELED", "FAILED", "FINISHED"):
                        return
                except (OSError, urllib.error.URLError):
                    return
                time.sleep(0.5)

    def drop(self) -> None:
        """The run's keyspace and topics go (a failed run's stay for inspection)."""
        from kafka.admin import KafkaAdminClient

        from local_stack.cassandra import connect

        try:
            with connect(list(self.s.cassandra_hosts)) as session:
                session.execute(f"DROP KEYSPACE IF EXISTS {self.s.keyspace}", timeout=120)
            admin = KafkaAdminClient(bootstrap_servers=self.s.bootstrap)
            try:
                admin.delete_topics([self.s.likes_topic, self.s.gifts_topic, self.s.dlq_topic])
            finally:
                admin.close()
        except Exception as exc:  # noqa: BLE001 - cleanup only
            log.warning("cleanup of %s: %s", self.s.keyspace, exc)


def cluster_free() -> None:
    """Raises BenchError unless the Flink cluster runs no job (a benchmark needs the machine
    to itself)."""
    busy = [j["jid"] for j in rest_get("/jobs/overview")["jobs"]
            if j["state"] not in ("FINISHED", "CANCELED", "FAILED")]
    if busy:
        raise BenchError(f"the Flink cluster runs other jobs ({', '.join(busy)}): a "
                         "benchmark needs the machine to itself; cancel them first")


def python_workers_rss() -> int:
    """Resident bytes of the PyFlink Python workers on this machine (``pyflink.fn_execution``
    processes)."""
    from pathlib import Path

    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            if b"pyflink.fn_execution" not in cmd and b"beam_boot" not in cmd:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total
