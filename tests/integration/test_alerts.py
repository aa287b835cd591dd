"""The alert rules operators copy (``deploy/prometheus/alerts.yml``) against the real
job: each condition is made to happen, and the local stack's Prometheus, scraping the Flink
processes, sees the rule's expression become true (its ``for`` is the operator's to tune and
is not waited out here)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time

import pytest
import yaml

from local_stack import flink, stack
from local_stack.paths import REPO_ROOT, StackPaths
from local_stack.process import ManagedProcess
from local_stack.prometheus import query
from tests.counting import JobNames, provision_for, wait_until_exact
from tools.workload import generate
from tools.workload import produce as produce_workload

pytestmark = pytest.mark.integration

JOB_FILE = flink.counting_job()
RULES = yaml.safe_load((REPO_ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())


def expr(alert: str) -> str:
    return next(r["expr"] for g in RULES["groups"] for r in g["rules"] if r["alert"] == alert)


def wait_for(expression: str, true: bool, timeout_s: float) -> float:
    """Seconds until ``expression`` is true (non-empty) or false (empty), as asked."""
    t0 = time.monotonic()
    while True:
        if bool(query(expression)) == true:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < timeout_s, (
            f"{expression!r} still {'false' if true else 'true'} after {timeout_s:.0f} s")
        time.sleep(1)


@contextlib.contextmanager
def running_job(kafka_bootstrap: str, cassandra_hosts: str, conf: dict[str, str] | None = None):
    """The counting job, RUNNING (with the Flink options ``conf``); yields (settings, job
    id) and cancels it after."""
    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    res = flink.submit(JOB_FILE, names.args(kafka_bootstrap, cassandra_hosts), detached=True,
                       parallelism=2, timeout=300, conf=conf)
    job_id = flink.job_id_of(res.stdout)
    try:
        assert flink.wait_all_running(job_id, 180), "the job did not start"
        yield s, job_id
    finally:
        try:
            flink.cancel(job_id)
        except Exception:  # noqa: BLE001 - already ended by the test
            pass


@pytest.fixture
def live_job(kafka_bootstrap, cassandra_hosts, flink_cluster, prometheus):
    with running_job(kafka_bootstrap, cassandra_hosts) as job:
        yield job


def produce_in_background(wl, s, rate: float | None
                          ) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def send() -> None:
        try:
            produce_workload(wl, s.bootstrap, s.likes_topic, s.gifts_topic, rate=rate)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    producer = threading.Thread(target=send, name="alerts-producer", daemon=True)
    producer.start()
    return producer, errors


def paused_cassandra():
    cassandra = stack.services(StackPaths.from_env())["cassandra"].processes[0]
    assert cassandra.is_running(), "this test pauses the local stack's Cassandra"
    return cassandra


def test_a_job_that_is_not_running_is_seen(live_job):
    _, job_id = live_job
    not_running = expr("LiveCountersJobNotRunning")
    wait_for(not_running, False, 60)  # RUNNING: the expression is empty
    flink.cancel(job_id)
    wait_for(not_running, True, 60)


def test_a_sink_that_cannot_write_stalls_the_checkpoints_and_is_seen(live_job):
    """Cassandra paused (SIGSTOP) while events flow (250/s for 200 s): the sink's write
    round cannot finish, so the barrier behind it waits and no checkpoint completes; the
    rule sees it, and after Cassandra resumes the checkpoints complete again and every count
    is exact."""
    s, job_id = live_job
    wl = generate(35, events=50_000, rooms=200, now_ms=int(time.time() * 1000),
                  span_ms=200_000)
    producer, errors = produce_in_background(wl, s, rate=250)
    stalled = expr("LiveCountersCheckpointsStalled")
    completed = ("flink_jobmanager_job_lastCheckpointCompletedTimestamp"
                 f'{{job_id="{job_id}"}} > 0')
    wait_for(completed, True, 90)
    wait_for(stalled, False, 30)
    cassandra = paused_cassandra()
    cassandra.signal(signal.SIGSTOP)
    try:
        took = wait_for(stalled, True, 240)
    finally:
        cassandra.signal(signal.SIGCONT)
    assert took >= 100, f"true after {took:.0f} s of the pause: sooner than the rule allows"
    wait_for(stalled, False, 180)  # checkpoints complete again
    producer.join(timeout=300)
    assert not errors, f"producing failed: {errors[0]!r}"
    report = wait_until_exact(s, wl, timeout_s=300)
    assert report.exact, report.summary()


def test_a_stuck_write_round_is_seen_as_it_lasts_and_the_checkpoints_fail(
        kafka_bootstrap, cassandra_hosts, flink_cluster, prometheus):
    """Cassandra paused (SIGSTOP) for about a minute while events flow (250/s), the job's
    checkpoint timeout 20 s. The sink's gauges are read only at bundle ends, and none ends
    while it waits for its round at a barrier; yet the time its oldest unconfirmed truth
    arrived, subtracted from now at every evaluation, ages: the stalled-sink rule is true
    after 30 s of the pause and the persistence-delay rule after 60 s. The checkpoint behind
    the stuck round times out, and the failed-checkpoints rule sees it. Once Cassandra
    resumes, the sink catches up (the stall is over) and every count is exact."""
    timeout = {"execution.checkpointing.timeout": "20 s"}
    with running_job(kafka_bootstrap, cassandra_hosts, conf=timeout) as (s, job_id):
        config = flink.rest_get(f"/jobs/{job_id}/checkpoints/config")
        assert config["timeout"] == 20_000, config  # the job's own option took effect
        wl = generate(36, events=75_000, rooms=200, now_ms=int(time.time() * 1000),
                      span_ms=300_000)
        producer, errors = produce_in_background(wl, s, rate=250)
        stalled, delayed, failing = (expr(a) for a in (
            "LiveCountersSinkStalled", "LiveCountersPersistenceDelayHigh",
            "LiveCountersCheckpointsFailing"))
        # the rule leaves out a run's first minutes (checkpoints triggered before every task
        # ran count as failed): the pause comes after them
        wait_for(f'flink_jobmanager_job_runningTime{{job_id="{job_id}"}} > 180000', True, 240)
        wait_for(f'flink_jobmanager_job_lastCheckpointCompletedTimestamp{{job_id="{job_id}"}}'
                 " > 0", True, 30)
        for healthy in (stalled, delayed, failing):
            wait_for(healthy, False, 30)
        cassandra = paused_cassandra()
        cassandra.signal(signal.SIGSTOP)
        paused_at = time.monotonic()
        seen: dict[str, float] = {}
        try:
            for name, e in (("stalled", stalled), ("failing", failing), ("delayed", delayed)):
                wait_for(e, True, 100 - (time.monotonic() - paused_at))
                seen[name] = time.monotonic() - paused_at
        finally:
            cassandra.signal(signal.SIGCONT)
        print(f"true after the pause began: {seen}")
        # the oldest unconfirmed truth reached the sink at most a bundle before the pause
        assert seen["stalled"] >= 29, seen
        assert seen["delayed"] >= 59, seen
        wait_for(stalled, False, 120)  # the round finished: nothing waits any more
        producer.join(timeout=300)
        assert not errors, f"producing failed: {errors[0]!r}"
        report = wait_until_exact(s, wl, timeout_s=300)
        assert report.exact, report.summary()


def _taskmanagers() -> int:
    return flink.rest_get("/overview")["taskmanagers"]


def _wait(cond, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"not {what} after {timeout_s:.0f} s"
        time.sleep(0.5)


@pytest.fixture
def small_taskmanager(flink_cluster):
    """The stack's TaskManager replaced, for one test, by one with little direct memory to
    spare: 36m of framework off-heap memory (Flink's default is 128m) and none for tasks
    (flink-conf/config.yaml gives them 256m), over about 200m of network buffers."""
    paths = StackPaths.from_env()
    usual = stack.services(paths)["flink"].taskmanager
    small = ManagedProcess("flink-taskmanager-small", paths.run, paths.logs)
    usual.stop()
    try:
        _wait(lambda: _taskmanagers() == 0, 60, "deregistered")
        flink.start_taskmanager(small, paths, conf={
            "taskmanager.memory.framework.off-heap.size": "36m",
            "taskmanager.memory.task.off-heap.size": "0m"})
        _wait(lambda: _taskmanagers() == 1, 120, "registered")
        yield small
    finally:
        small.stop()
        _wait(lambda: _taskmanagers() == 0, 60, "deregistered")
        flink.start_taskmanager(usual, paths)
        _wait(lambda: flink.rest_get("/overview")["slots-total"] >= 2, 120,
              "back with its slots")


def test_a_taskmanager_near_its_direct_memory_limit_is_seen(
        kafka_bootstrap, cassandra_hosts, small_taskmanager, prometheus):
    """The job runs on a TaskManager whose direct memory is mostly network buffers (207 MB
    of a 244 MB limit): what the job itself takes (flink-python's classes and buffers, the
    gRPC channels to its Python workers; 13-19 MB measured) takes it past 90% of the limit
    its decode step reports, and the rule sees it (its ``for`` aside)."""
    high = expr("LiveCountersDirectMemoryHigh")
    with running_job(kafka_bootstrap, cassandra_hosts) as (_, job_id):
        limit_of_job = ("flink_taskmanager_job_task_operator_direct_memory_max_bytes"
                        f'{{job_id="{job_id}"}}')
        wait_for(f"{limit_of_job} > 0", True, 60)
        took = wait_for(high, True, 120)
        used, limit = (float(query(f"max({m})")[0]["value"][1]) for m in (
            "flink_taskmanager_Status_JVM_Memory_Direct_MemoryUsed", limit_of_job))
        print(f"true after {took:.0f} s: {used:,.0f} of {limit:,.0f} bytes")
        mem = flink.rest_get("/taskmanagers")["taskmanagers"][0]["memoryConfiguration"]
        # the JVM's own limit, as Flink sets it from its memory options
        assert limit == mem["frameworkOffHeap"] + mem["taskOffHeap"] + mem["networkMemory"]
