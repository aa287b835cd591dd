"""The benchmark's backlog drain and latency runs against the real stack: the job is
submitted with ``flink run -py``, every row is checked, and the figures come out."""

from __future__ import annotations

import pytest

from jobs.counters.settings import Settings
from tools.bench.drain import produce_backlog, run_drain
from tools.bench.latency import BUDGET_GAUGES, run_latency
from tools.bench.load import Shape

pytestmark = pytest.mark.integration


def test_drain_is_timed_and_exact(kafka_bootstrap, cassandra_hosts, flink_cluster):
    lines: list[str] = []
    backlog = produce_backlog(Shape(20_000, 500, "zipf", seed=11), 1, progress=lines.append)
    try:
        d = run_drain(backlog, progress=lines.append)
    finally:
        backlog.run.drop()
    assert d.error is None, "\n".join(lines)
    assert d.exact and d.rows_wrong == 0
    assert d.messages == 20_000 and d.counted == backlog.truth.counted
    assert d.dlq_letters == d.dlq_expected == backlog.truth.invalid > 0
    assert d.seconds > 0 and d.events_per_s > 0 and d.start_s > 0
    assert d.sink["sink_rows_written"] >= d.rows     # every row written at least once
    assert d.checkpoints["completed"] >= 0 and d.memory["heap_bytes"] > 0
    assert d.restarts == 0                           # read from Flink's REST API


def test_latency_samples_and_exact(kafka_bootstrap, cassandra_hosts, flink_cluster):
    lines: list[str] = []
    res = run_latency(1_000, 10, 1, rooms=200, warmup_s=10, progress=lines.append)
    assert res.error is None, "\n".join(lines)
    assert res.exact
    assert len(res.samples) > 100 and all(s > 0 for s in res.samples)
    assert 800 <= res.achieved_rate <= 1_100
    assert res.restarts == 0
    # the latency budget's measured stages: the job's gauges, sampled while measuring
    for name in BUDGET_GAUGES:
        assert res.gauges.get(name), (name, res.gauges)
    for name in ("decoded_age_ms", "aggregated_age_ms", "sink_arrival_age_ms",
                 "persistence_delay_ms"):
        assert all(0 < ms < 60_000 for ms in res.gauges[name]), (name, res.gauges[name])
    assert all(ms >= 0 for ms in res.gauges["sink_last_round_ms"])
    # the budget's bounds are the run's settings (here the job's defaults)
    defaults = Settings.parse([])
    assert (res.bundle_ms, res.flush_ms) == (defaults.bundle_ms, defaults.flush_ms)


def test_the_jobs_stages_read_the_whole_backlog(kafka_bootstrap, cassandra_hosts,
                                                flink_cluster):
    """The stage ceilings (the job's own SQL up to a stage, into blackholes) run on a
    cluster, end at the backlog's end and take in every message of it."""
    import shlex
    import time

    from local_stack.flink import job_restarts, rest_get
    from tools.bench.ceilings import delete_group, run_ceiling_job

    backlog = produce_backlog(Shape(5_000, 200, "zipf", seed=12), 1, progress=print)
    try:
        for kind in ("decode", "truths"):
            group = f"test-stage-{kind}-{backlog.run.s.keyspace}"
            res = run_ceiling_job(["--kind", kind, "--job-args", shlex.join(backlog.run.args),
                                   "--group-id", group], standalone=True, parallelism=1,
                                  timeout_s=300)
            delete_group(kafka_bootstrap, group)
            assert res["mode"] == "submitted" and res["events"] == 5_000
            assert res["events_per_s"] > 0 and res["tasks_s"] > 0
            job = rest_get(f"/jobs/{res['job_id']}")
            for _ in range(30):   # the REST API caches a job's details for a few seconds
                if job["state"] != "RUNNING":
                    break
                time.sleep(1)
                job = rest_get(f"/jobs/{res['job_id']}")
            assert job["state"] == "FINISHED"   # the bounded source ended at the backlog's end
            assert job_restarts(res["job_id"]) == 0
            if kind == "truths":
                # every valid message reached the dedup as an event (the decode's chain sends
                # them over the network to it; the invalid ones go on as dead letters)
                dedup = next(v for v in job["vertices"] if v["name"].startswith("OverAggregate"))
                valid = backlog.truth.messages - backlog.truth.invalid
                assert backlog.truth.invalid > 0 and dedup["metrics"]["read-records"] == valid
    finally:
        backlog.run.drop()
