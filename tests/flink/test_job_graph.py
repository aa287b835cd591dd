"""The job's graph as Flink plans it: one writer per counter row (the sink reads forward from
the aggregation, which is partitioned by the row's key), the sink in a task of its own, and
no truth crosses into Python more than once."""

from __future__ import annotations

import json

import pytest

from jobs.counters.engine import configure
from jobs.counters.graph import build
from jobs.counters.settings import Settings
from jobs.runtime import execution_environment, job_jars

pytestmark = pytest.mark.flink


def _env():
    env = execution_environment(job_jars(), parallelism=2)
    s = Settings.parse([])
    build(env, configure(env, s), s, owner="test-graph")  # as main does
    return env


def _plan() -> dict[int, dict]:
    return {n["id"]: n for n in json.loads(_env().get_execution_plan())["nodes"]}


def test_the_sink_writes_each_row_from_the_hold_subtask_that_owns_it():
    """One writer per counter row: the hold is keyed by the row (in the JVM, no Python key
    selector) and the sink reads forward from it."""
    nodes = _plan()
    sink = [n for n in nodes.values() if n["contents"] == "cassandra-counters"]
    assert len(sink) == 1, [n["contents"] for n in nodes.values()]
    (edge,) = sink[0]["predecessors"]
    assert edge["ship_strategy"] == "FORWARD", edge
    hold = nodes[edge["id"]]
    assert hold["contents"] == "truth-hold", hold["contents"]
    (edge,) = hold["predecessors"]
    assert edge["ship_strategy"] == "HASH", edge  # keyed by the counter row
    node = nodes[edge["id"]]
    while "GlobalGroupAggregate" not in node["contents"]:
        (edge,) = node["predecessors"]
        assert edge["ship_strategy"] == "FORWARD", (node["contents"], edge)
        node = nodes[edge["id"]]
    assert "groupBy=[room_id, wstart, kind, gift_id" in node["contents"], node["contents"]
    assert not [n for n in nodes.values() if "key_by" in n["contents"]]


def test_the_sink_is_a_task_of_its_own_so_its_waits_do_not_stop_the_aggregation():
    # the tasks Flink would run (operator chains), from the job graph PyFlink submits; the
    # hold heads the sink's task (it must see every truth the sink sees, in order)
    graph = _env()._generate_stream_graph(False).getJobGraph()
    tasks = [v.getName() for v in graph.getVerticesSortedTopologicallyFromSources()]
    assert tasks[-1] == "truth-hold -> cassandra-counters", tasks
    assert "GlobalGroupAggregate" in tasks[-2], tasks
