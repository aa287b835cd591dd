"""The job's SQL on the mini-cluster: dedup (first seen wins) and accumulation into the truths
of the three tables, late events included."""

from __future__ import annotations

import pytest
from pyflink.common import Row, Types
from pyflink.table import Schema, StreamTableEnvironment

from connectors.counter_rows import GIFTS, TOTALS, WINDOWS
from jobs.counters.aggregate.sql import truth_stream
from jobs.counters.decode.spec import id_hash
from jobs.counters.engine import configure_tables
from jobs.counters.settings import Settings
from jobs.counters.truth import truth_of
from jobs.runtime import execution_environment

pytestmark = pytest.mark.flink

NOW = 1_763_700_000_000
# the view ``events`` as the decode step makes it (pipeline.EVENTS_SQL, without proctime)
EVENT_TYPE = Types.ROW_NAMED(
    ["kind", "id_hi", "id_lo", "room_id", "gift_id", "likes", "gift_count", "gift_value", "ts",
     "late"],
    [Types.STRING(), Types.LONG(), Types.LONG(), Types.LONG(), Types.INT(), Types.LONG(),
     Types.LONG(), Types.LONG(), Types.LONG(), Types.INT()])


def _event(kind, event_id, room, gift_id, likes, gift_count, gift_value, ts, late) -> Row:
    return Row(kind, *id_hash(kind, event_id), room, gift_id, likes, gift_count, gift_value, ts,
               late)


EVENTS = [
    _event("like", "a", 1, 0, 3, 0, 0, NOW, 0),
    _event("like", "a", 1, 0, 9, 0, 0, NOW, 0),            # repeat of "a": ignored, first wins
    _event("like", "b", 1, 0, 2, 0, 0, NOW + 61_000, 0),   # next window
    _event("gift", "a", 1, 7, 0, 2, 500, NOW, 0),          # same id on the gift topic: counted
    _event("gift", "g", 2, 7, 0, 1, 100, NOW, 0),
    _event("gift", "h", 2, 8, 0, 4, 40, NOW + 1, 0),
    _event("like", "c", 1, 0, 5, 0, 0, NOW - 3_600_000, 1),  # an hour late: its own window
    _event("gift", "g", 2, 7, 0, 1, 100, NOW, 1),          # repeat (marked late: not counted)
]


def test_dedup_and_accumulation():
    s = Settings.parse(["--flush-ms", "200"])
    env = execution_environment([], parallelism=1)
    t_env = StreamTableEnvironment.create(env)
    configure_tables(t_env, s)
    t_env.create_temporary_view("events", t_env.from_data_stream(
        env.from_collection(EVENTS, type_info=EVENT_TYPE),
        Schema.new_builder().column_by_expression("proctime", "PROCTIME()").build()))
    truths = truth_stream(t_env, s)
    latest, late = {}, {}
    with truths.execute_and_collect() as rows:
        for row in rows:
            item = truth_of(row)
            if item is not None:
                latest[item[0]] = item[1]
                if item[0][0] == TOTALS:
                    late[item[0][1]] = row["late_events"]
    w = 60_000
    assert latest == {
        (TOTALS, 1, 0): (10, 2, 500, 4, 1),
        (TOTALS, 2, 0): (0, 5, 140, 2, 1),
        (WINDOWS, 1, NOW - NOW % w): (3, 2, 500),
        (WINDOWS, 1, NOW + 61_000 - (NOW + 61_000) % w): (2, 0, 0),
        (WINDOWS, 1, NOW - 3_600_000 - (NOW - 3_600_000) % w): (5, 0, 0),
        (WINDOWS, 2, NOW - NOW % w): (0, 5, 140),
        (GIFTS, 1, 7): (2, 500),
        (GIFTS, 2, 7): (1, 100),
        (GIFTS, 2, 8): (4, 40),
    }
    # late events the decode step marked, first seen only (a late repeat is not one)
    assert late == {1: 1, 2: 0}


def test_the_truths_leave_the_jvm_without_retractions():
    """Python receives one row per changed truth: an update, never the retraction before it
    (the sink would only discard it). Mini-batches of two records make every row change
    several times."""
    from pyflink.common import RowKind

    s = Settings.parse(["--flush-ms", "200"])
    env = execution_environment([], parallelism=1)
    t_env = StreamTableEnvironment.create(env)
    configure_tables(t_env, s)
    t_env.get_config().set("table.exec.mini-batch.size", "2")
    t_env.create_temporary_view("events", t_env.from_data_stream(
        env.from_collection(EVENTS, type_info=EVENT_TYPE),
        Schema.new_builder().column_by_expression("proctime", "PROCTIME()").build()))
    kinds = {}
    with truth_stream(t_env, s).execute_and_collect() as rows:
        for row in rows:
            kinds[row.get_row_kind()] = kinds.get(row.get_row_kind(), 0) + 1
    assert kinds.get(RowKind.UPDATE_AFTER, 0) > 0  # rows did change after their first truth
    assert set(kinds) <= {RowKind.INSERT, RowKind.UPDATE_AFTER}, kinds


def test_the_truths_never_expire_and_an_event_is_not_joined():
    """The compiled plan of the truth query: the aggregation's state has no TTL (the dedup
    horizon, table.exec.state.ttl, would drop a room's truth after two quiet hours and the
    next truth would start again from zero), and the per-event path holds no join state (an
    event becomes its counter rows in place)."""
    import json

    from pyflink.table import EnvironmentSettings, TableDescriptor, TableEnvironment

    from jobs.counters.aggregate.sql import TRUTH_SQL, truth_query_views
    from jobs.counters.truth import schema

    s = Settings.parse([])
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    configure_tables(t_env, s)
    t_env.execute_sql("""
CREATE TEMPORARY TABLE events (
  kind STRING, id_hi BIGINT, id_lo BIGINT, room_id BIGINT, gift_id INT, likes BIGINT,
  gift_count BIGINT, gift_value BIGINT, ts BIGINT, late INT, proctime AS PROCTIME()
) WITH ('connector' = 'datagen')""")
    truth_query_views(t_env, s)
    # the job's truth schema, primary key included
    t_env.create_temporary_table(
        "truths", TableDescriptor.for_connector("blackhole").schema(schema()).build())
    plan = json.loads(t_env.compile_plan_sql("INSERT INTO truths " + TRUTH_SQL).as_json_string())
    nodes = {n["type"].rsplit("_", 1)[0]: n for n in plan["nodes"]}
    assert [st["ttl"] for st in nodes["stream-exec-global-group-aggregate"]["state"]] == ["0 ms"]
    assert "stream-exec-correlate" in nodes
    assert not [t for t in nodes if "join" in t]
    assert nodes["stream-exec-sink"]["inputChangelogMode"] == ["INSERT", "UPDATE_AFTER"]
