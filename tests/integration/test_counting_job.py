"""The counting job end to end: real Kafka, Flink and Cassandra, exact against ground truth."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from jobs.counters.workload import generate
from local_stack.paths import StackPaths
from tests.counting import JobNames, dead_letters, produce, provision_for, wait_until_exact

pytestmark = pytest.mark.integration

SEED = 20261121


@pytest.fixture(scope="module")
def workload():
    # ts around now: the job's clock decides lateness and the "1 hour ahead" rule
    return generate(SEED, events=100_000, rooms=1_200, now_ms=int(time.time() * 1000))


def test_embedded_job_counts_exactly(kafka_bootstrap, cassandra_hosts, workload):
    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    assert len(workload.expected.totals) >= 1_000
    assert workload.duplicates > 0 and workload.late > 0 and workload.invalid > 0
    produce(s, workload)

    log = StackPaths.from_env().logs / f"counters-{names.suffix}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log, "w") as out:
        job = subprocess.Popen(
            [sys.executable, "-m", "jobs.counters.main", *names.args(kafka_bootstrap,
                                                                    cassandra_hosts),
             "--flush-ms", "500"], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        report = wait_until_exact(s, workload, timeout_s=300, alive=lambda: job.poll() is None)
        took = time.monotonic() - t0
        assert job.poll() is None, f"the job exited ({job.returncode}); see {log}"
        assert report.exact, report.summary() + "\n" + "\n".join(report.rows_wrong[:20])
        print(f"\n[counting] {len(workload.messages)} messages exact in {took:.0f}s "
              f"({len(workload.messages) / took:.0f} events/s incl. job start); "
              + report.summary())

        letters = dead_letters(s, expected=len(workload.expected.dead_letters))
        assert Counter(letters) == Counter(workload.expected.dead_letters)
    finally:
        os.killpg(job.pid, signal.SIGTERM)
        job.wait(timeout=60)
