"""Exactly-once under a crash: kill -9 of the TaskManager while the job counts a backlog.

The first of the fault scenarios; the harness of the reliability issue grows from here.
"""

from __future__ import annotations

import random
import signal
import time
import urllib.request
from collections import Counter

import pytest

from jobs.counters.workload import generate
from local_stack import stack
from local_stack.flink import FlinkService, rest_get, submit
from local_stack.paths import REPO_ROOT, StackPaths
from tests.counting import JobNames, dead_letters, produce, provision_for, wait_until_exact

pytestmark = pytest.mark.integration


def test_taskmanager_kill9_loses_nothing_and_doubles_nothing(kafka_bootstrap, cassandra_hosts,
                                                             flink_cluster):
    rnd = random.Random(4242)
    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    wl = generate(4242, events=100_000, rooms=1_000, now_ms=int(time.time() * 1000))
    produce(s, wl)
    res = submit(REPO_ROOT / "jobs" / "counters" / "main.py",
                 [*names.args(kafka_bootstrap, cassandra_hosts),
                  "--checkpoint-interval-ms", "3000", "--flush-ms", "500"],
                 detached=True, parallelism=2, timeout=300)
    job_id = next(line.split()[-1] for line in res.stdout.splitlines() if "JobID" in line)
    flink = FlinkService(StackPaths.from_env())
    try:
        kills = 0
        for _ in range(2):
            time.sleep(rnd.uniform(10, 18))  # mid-backlog: some rows written, more to come
            flink.taskmanager.signal(signal.SIGKILL)
            kills += 1
            time.sleep(1)
            stack.up(["flink"], progress=lambda m: None)  # a new TaskManager, as a supervisor would
        report = wait_until_exact(s, wl, timeout_s=400)
        runs = rest_get(f"/jobs/{job_id}")
        print(f"\n[faults] {kills} x kill -9 TaskManager, job state {runs['state']}; "
              + report.summary())
        assert report.exact, report.summary() + "\n" + "\n".join(report.rows_wrong[:20])
        assert report.events_lost == 0 and report.events_double_counted == 0
        letters = dead_letters(s, expected=len(wl.expected.dead_letters))
        assert Counter(letters) == Counter(wl.expected.dead_letters)
    finally:
        req = urllib.request.Request(f"{flink_cluster}/jobs/{job_id}?mode=cancel",
                                     method="PATCH")
        try:
            urllib.request.urlopen(req, timeout=30).close()
        except OSError:
            pass
