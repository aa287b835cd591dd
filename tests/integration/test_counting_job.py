"""The counting job end to end: real Kafka, Flink and Cassandra, exact against ground truth."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from local_stack.paths import StackPaths
from tests.counting import (
    JobNames,
    assert_dead_letters_exact,
    produce,
    provision_for,
    wait_until_exact,
)
from tools.workload import generate

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

        assert_dead_letters_exact(s, workload)
    finally:
        os.killpg(job.pid, signal.SIGTERM)
        job.wait(timeout=60)


def test_standalone_cluster_parallelism_2_counts_exactly(kafka_bootstrap, cassandra_hosts,
                                                         flink_cluster, workload):
    """The same job, submitted with `flink run -py` to the standalone cluster, parallelism 2."""
    from local_stack.flink import counting_job, rest_get, submit_detached

    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    produce(s, workload)
    t0 = time.monotonic()
    job_id = submit_detached(counting_job(),
                             [*names.args(kafka_bootstrap, cassandra_hosts), "--flush-ms", "500"],
                             parallelism=2)
    try:
        def running() -> bool:
            return rest_get(f"/jobs/{job_id}")["state"] in ("CREATED", "INITIALIZING",
                                                             "RUNNING", "RESTARTING")
        report = wait_until_exact(s, workload, timeout_s=300, alive=running)
        took = time.monotonic() - t0
        job = rest_get(f"/jobs/{job_id}")
        assert job["state"] == "RUNNING", f"job {job_id} is {job['state']}"
        assert {v["parallelism"] for v in job["vertices"]} == {2}
        assert report.exact, report.summary() + "\n" + "\n".join(report.rows_wrong[:20])
        print(f"\n[counting p=2] {len(workload.messages)} messages exact in {took:.0f}s; "
              + report.summary())
        assert_dead_letters_exact(s, workload)
        # the job's metrics are in Flink's metric system, and they add up
        metrics = _metric_sums(job_id, [
            "events_in", "dlq_records", "events_counted", "duplicates_dropped", "late_events",
            "window_results", "sink_rows_written", "sink_writes", "sink_rows_read",
            "persistence_delay_ms"],
            until=lambda m: m["events_in"] >= len(workload.messages)
            and m["events_counted"] >= workload.counted)
        assert metrics["events_in"] == len(workload.messages)
        assert metrics["dlq_records"] == workload.invalid
        assert metrics["events_counted"] == workload.counted
        assert metrics["duplicates_dropped"] == workload.duplicates
        assert metrics["window_results"] > 0 and metrics["sink_rows_written"] > 0
        # event times are at most 5 s before the workload was made (the newest a truth
        # covers is what counts), and the job ran for minutes at most: per subtask, a delay
        # of more than 0 and less than 10 minutes
        assert 0 < metrics["persistence_delay_ms"] < 2 * 600_000, metrics
        # the sink waited for its writes before every checkpoint barrier: each completed
        # checkpoint passed a barrier marker through both sink subtasks, and each marker
        # made its subtask drain its writer (graph.held)
        completed = rest_get(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
        assert completed > 0
        drains = _metric_sums(job_id, ["sink_barrier_drains"],
                              until=lambda m: m["sink_barrier_drains"] >= 2 * completed)
        assert drains["sink_barrier_drains"] >= 2 * completed, (drains, completed)
        _assert_prometheus_signals(job_id, s, workload)
    finally:
        import urllib.request
        req = urllib.request.Request(f"{flink_cluster}/jobs/{job_id}?mode=cancel",
                                     method="PATCH")
        urllib.request.urlopen(req, timeout=30).close()


def test_a_fresh_job_serves_every_signal_before_it_meets_bad_input(
        kafka_bootstrap, cassandra_hosts, flink_cluster):
    """A signal that appears only with its first count is no 0 to rate() or an alert: a job
    that has read only valid events serves every signal of jobs/counters/ops/signals.py."""
    from jobs.counters.ops.signals import SIGNALS
    from jobs.counters.ops.watch import DEFAULT_ENDPOINTS, snapshot
    from local_stack.flink import cancel, counting_job, submit_detached

    clean = generate(SEED + 1, events=3_000, rooms=50, now_ms=int(time.time() * 1000),
                     dup_rate=0, late_rate=0, malformed_rate=0, invalid_rate=0)
    assert clean.invalid == clean.duplicates == clean.late == 0
    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    produce(s, clean)
    job_id = submit_detached(counting_job(), names.args(kafka_bootstrap, cassandra_hosts),
                             parallelism=2)
    try:
        assert wait_until_exact(s, clean, timeout_s=180).exact
        want = {sig.key for sig in SIGNALS} - {"events_in_by_partition"}
        deadline = time.monotonic() + 60
        while True:  # the sink's gauges follow its confirmed writes at its next bundle end
            snap = snapshot(DEFAULT_ENDPOINTS, job_id=job_id)
            missing = sorted(want - set(snap.totals))
            if not snap.offsets:
                missing.append("events_in_by_partition")
            counted = snap.totals.get("events_counted") == clean.counted
            if (not missing and counted) or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert not missing, f"signals not served: {missing}; served {snap.totals}"
        t = snap.totals
        assert t["dlq_records"] == t["duplicates_dropped"] == t["late_events"] == 0, t
        assert t["events_counted"] == clean.counted, t
    finally:
        cancel(job_id)


def _metric_sums(job_id: str, names: list[str], until=lambda m: True,
                 timeout_s: float = 90) -> dict[str, float]:
    """Each user metric summed over subtasks and vertices (ids end with ``.<name>``).

    Flink's REST metric store is refreshed every few seconds: ask until every name is there
    and ``until`` holds (or the timeout), then return the last values."""
    from local_stack.flink import job_metric_sums

    deadline = time.monotonic() + timeout_s
    while True:
        out = job_metric_sums(job_id, names)
        if (set(out) >= set(names) and until(out)) or time.monotonic() > deadline:
            assert set(out) >= set(names), f"metrics missing: {set(names) - set(out)}"
            return out
        time.sleep(2)


def _assert_prometheus_signals(job_id: str, s, workload, timeout_s: float = 90) -> None:
    """Every signal of docs/monitoring.md, scraped from the cluster's Prometheus endpoints
    (JobManager and TaskManager), with a plausible value once the job has drained: what it
    counted equals what was sent, and the lag is back to 0."""
    from jobs.counters.ops.signals import SIGNALS
    from jobs.counters.ops.watch import DEFAULT_ENDPOINTS, end_offsets, snapshot

    def plausible(snap) -> list[str]:
        t = snap.totals
        want = {sig.key for sig in SIGNALS} - {"events_in_by_partition"}
        bad = [f"missing {k}" for k in sorted(want - set(t))]
        if bad:
            return bad
        ends = end_offsets(s.bootstrap, sorted(snap.offsets)) or {}
        return [what for what, ok in [
            ("events_in", t["events_in"] == len(workload.messages)),
            ("dlq_records", t["dlq_records"] == workload.invalid),
            ("events_counted", t["events_counted"] == workload.counted),
            ("duplicates_dropped", t["duplicates_dropped"] == workload.duplicates),
            # every event sent late is 10-90 min behind, the others within 5 s of each other:
            # all are caught, except one a decode subtask read before any newer event (at
            # most one a subtask, at its start)
            ("late_events", workload.late - 2 <= t["late_events"] <= workload.late),
            ("rows_written", t["rows_written"] > 0), ("rows_read", t["rows_read"] >= 0),
            ("ambiguous_writes", t["ambiguous_writes"] >= 0),
            ("lag", t["lag"] == 0),
            ("persistence_delay", 0 < t["persistence_delay"] < 600_000),
            # the budget's stages (events are stamped around the moment they are generated)
            ("decoded_age", -60_000 < t["decoded_age"] < 600_000),
            ("aggregated_age", -60_000 < t["aggregated_age"] < 600_000),
            ("sink_arrival_age", -60_000 < t["sink_arrival_age"] < 600_000),
            ("truths_held", t["truths_held"] == 0),  # a job that keeps up holds nothing
            ("checkpoint_duration", t["checkpoint_duration"] >= 0),
            ("checkpoint_size", t["checkpoint_size"] > 0),
            ("restarts", t["restarts"] == 0),
            ("partitions", {tp for tp in snap.offsets} == set(ends)
             and {s.likes_topic, s.gifts_topic} == {tp[0] for tp in ends}),
            ("lag per partition", all(ends[tp] - off - 1 == 0
                                      for tp, off in snap.offsets.items() if tp in ends)),
        ] if not ok]

    deadline = time.monotonic() + timeout_s
    while True:
        snap = snapshot(DEFAULT_ENDPOINTS, job_id=job_id)
        wrong = plausible(snap)
        if not wrong:
            assert snap.endpoints >= 2  # the JobManager and the TaskManager
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus signals not plausible: {wrong}; "
                                 f"{snap.totals} {snap.offsets}")
        time.sleep(2)
