"""A counting job killed and started again: without its state it refuses to start (it could
never bring the rows already counted to their truth); resumed from its latest retained
checkpoint it counts on, exactly. Real Kafka, Cassandra and an embedded Flink."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local_stack.paths import StackPaths
from tests.counting import JobNames, produce, provision_for, wait_until_committed, wait_until_exact
from tools import verify
from tools.workload import generate, plus

pytestmark = pytest.mark.integration


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-m", "jobs.counters.main", *args],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(job: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if job.poll() is None:
        os.killpg(job.pid, sig)
        job.wait(timeout=60)


def _latest_checkpoint(since: float) -> Path:
    """The newest completed checkpoint (one with ``_metadata``) written after ``since``."""
    found = [m.parent for m in StackPaths.from_env().checkpoints.glob("*/chk-*/_metadata")
             if m.stat().st_mtime >= since]
    assert found, "the job retained no completed checkpoint"
    return max(found, key=lambda p: p.stat().st_mtime)


def test_a_job_resumes_from_its_checkpoint_and_refuses_to_start_without_it(
        kafka_bootstrap, cassandra_hosts):
    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    args = [*names.args(kafka_bootstrap, cassandra_hosts), "--flush-ms", "500"]
    log = StackPaths.from_env().logs / f"counters-resume-{names.suffix}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    first = generate(1, events=10_000, rooms=300, now_ms=now)
    second = generate(2, events=10_000, rooms=300, now_ms=now)

    t0 = time.time()
    job = _start(args, log)
    try:
        produce(s, first)
        report = wait_until_exact(s, first, timeout_s=240, alive=lambda: job.poll() is None)
        assert report.exact, report.summary()
        # a completed checkpoint after the last event, its offsets committed to the group
        # (the rows can be exact well before: the sink writes ahead of the checkpoint)
        wait_until_committed(s)
    finally:
        _stop(job, signal.SIGKILL)  # a crash: nothing is cleaned up, the checkpoints stay
    checkpoint = _latest_checkpoint(t0)

    # started again without state: refused, saying why and what to do
    # (its lease outlives the killed job by up to 30 s: waited out first)
    res = subprocess.run([sys.executable, "-m", "jobs.counters.main", *args,
                          "--lease-wait-ms", "60000"], capture_output=True, text=True, timeout=180)
    assert res.returncode == 3, res.stderr[-2000:]
    assert f"keyspace {s.keyspace} holds counts" in res.stderr
    assert f"consumer group {s.group_id} has committed offsets" in res.stderr
    assert "--from-savepoint PATH" in res.stderr

    # resumed from the checkpoint: the second load is counted on top of the first
    job = _start([*args, "--from-savepoint", checkpoint.as_uri()], log)
    try:
        produce(s, second)
        report = verify.wait_until_exact(list(s.cassandra_hosts), s.keyspace,
                                         plus(first.expected, second.expected), 300,
                                         lambda: job.poll() is None)
        assert job.poll() is None, f"the resumed job exited ({job.returncode}); see {log}"
        assert report.exact, report.summary() + "\n" + "\n".join(report.rows_wrong[:20])
        assert f"restoring the job's state from {checkpoint.as_uri()}" in log.read_text()
    finally:
        _stop(job)
