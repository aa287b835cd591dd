"""The engine ceiling of the benchmark on the embedded mini-cluster: the job runs to its end
and reports a rate, and its window query counts every generated event in rooms 1..R with the
log-uniform distribution's share for room 1."""

from __future__ import annotations

import math

import pytest
from pyflink.table import StreamTableEnvironment

from jobs.runtime import execution_environment
from tools.bench.ceilings import (
    LIKES_MAX,
    LOG_UNIFORM,
    engine_ceiling_sql,
    run_ceiling_job,
    window_select_sql,
)

pytestmark = pytest.mark.flink


def test_engine_ceiling_job_finishes_with_a_rate():
    # a fresh interpreter with its own mini-cluster, as the benchmark runs it
    result = run_ceiling_job(["--kind", "engine", "--events", "200000", "--rooms", "1000"],
                             parallelism=1, timeout_s=600)
    assert result["mode"] == "embedded" and result["parallelism"] == 1
    assert result["events"] == 200_000
    assert 0 < result["job_s"] <= result["wall_s"]
    # the REST API answered: the rate is over the tasks' time, within the job's
    assert result["tasks_s"] is not None and 0 < result["tasks_s"] <= result["job_s"]
    assert result["events_per_s"] == pytest.approx(200_000 / result["tasks_s"])


def test_the_window_query_counts_every_event():
    events, rooms = 100_000, 1000
    env = execution_environment([], parallelism=1)
    t_env = StreamTableEnvironment.create(env)
    # the end of the input need not wait for a checkpoint to release the collected rows
    t_env.get_config().set("execution.checkpointing.checkpoints-after-tasks-finish", "false")
    source, view, *_ = engine_ceiling_sql(events, rooms, LOG_UNIFORM)
    t_env.execute_sql(source)
    t_env.execute_sql(view)
    total = likes = room_1 = 0
    lowest, highest = math.inf, 0
    with t_env.execute_sql(window_select_sql()).collect() as rows:
        for room_id, _start, _end, window_likes, window_events in rows:
            total += window_events
            likes += window_likes
            room_1 += window_events if room_id == 1 else 0
            lowest, highest = min(lowest, room_id), max(highest, room_id)
    assert total == events                       # no event late, none lost
    assert events <= likes <= LIKES_MAX * events
    assert 1 <= lowest and highest <= rooms
    # P(room 1) = ln 2 / ln(R + 1) = 0.1003; 7 standard deviations at 100,000 events
    assert room_1 / events == pytest.approx(math.log(2) / math.log(rooms + 1), abs=0.007)
