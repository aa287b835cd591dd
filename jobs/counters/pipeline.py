"""Wiring of the counting job.

    Kafka live.likes + live.gifts (raw bytes, offsets)           [JVM, SQL source]
      -> decode + validate  --invalid-->  live.dlq (transactional) [JVM, jobs/counters/jvm;
                                                                    decode.py its spec]
      -> dedup by a 128-bit hash of (kind, event_id), first wins   [JVM, keyed state]
      -> truths per room, per room+window, per room+gift type      [JVM, local-global
         (mini-batched: one update per changed row per flush)       aggregation]
      -> hold, keyed by counter row: while behind, the newest      [JVM, jobs/counters/jvm,
         truth per row, let go in rounds; a marker row before       keyed state; logic.
         each checkpoint barrier                                    HoldPolicy its spec]
      -> Cassandra counter rows brought to their truth             [Python, chained to the
                                                                    hold: waits for its
                                                                    writes only at markers]

Per-event work stays in the JVM; Python sees rows one at a time only after aggregation: while
live once per changed counter row and flush, while behind once per changed row and round.
"""

from __future__ import annotations

from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.table import ChangelogMode, DataTypes, Schema, StreamTableEnvironment

from jobs.counters.counter_sink import TRUTH_FIELDS, CounterSink
from jobs.counters.decode import decoder_config
from jobs.counters.logic import BEHIND_MS
from jobs.counters.settings import Settings


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _client_options(s: Settings) -> str:
    """The Kafka client properties of ``--kafka-config`` (TLS, SASL) as connector options."""
    return "".join(f",\n  {_sql_str('properties.' + k)} = {_sql_str(v)}"
                   for k, v in sorted(s.kafka.flink().items()))


def source_ddl(s: Settings, bounded: bool = False) -> str:
    """The Kafka source of both event topics. ``bounded``: it ends at the latest offsets of
    its start (the benchmark's stage ceilings run the job's own SQL on a backlog); the
    counting job's source never ends."""
    end = ",\n  'scan.bounded.mode' = 'latest-offset'" if bounded else ""
    return f"""
CREATE TEMPORARY TABLE raw_events (
  `key` BYTES,
  `value` BYTES,
  `topic` STRING METADATA VIRTUAL,
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA VIRTUAL,
  `kts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `ts_type` STRING METADATA FROM 'timestamp-type' VIRTUAL
) WITH (
  'connector' = 'kafka',
  'topic' = {_sql_str(s.likes_topic + ';' + s.gifts_topic)},
  'properties.bootstrap.servers' = {_sql_str(s.bootstrap)},
  'properties.group.id' = {_sql_str(s.group_id)},
  'properties.auto.offset.reset' = {_sql_str(s.startup)},
  'scan.startup.mode' = 'group-offsets',
  'key.format' = 'raw',
  'key.fields' = 'key',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY'{end}{_client_options(s)}
)"""


def marked_view_sql(s: Settings) -> str:
    """Every valid event with its window, whether it is late (decided by the decode step:
    Flink's watermark cannot be read here, the mini-batch assigner replaces it with
    processing-time markers), and whether it is the first of its event id (COUNT over the
    id's rows in arrival order: 1 = first seen)."""
    return f"""
CREATE TEMPORARY VIEW marked AS
SELECT kind, room_id, gift_id, likes, gift_count, gift_value, ts,
       ts - MOD(ts, {s.window_ms}) AS wstart,
       late,
       CASE WHEN COUNT(*) OVER (PARTITION BY id_hi, id_lo ORDER BY proctime
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) = 1
            THEN 1 ELSE 0 END AS first_seen
FROM events"""


# Every marked event as the counter rows it adds to, one row each, keyed by plain columns:
# (room_id; wstart -1, kind '', gift_id -1) -> room_totals, (room_id, wstart) ->
# room_windows, (room_id, kind, gift_id) -> room_gifts (gift events only). -1 and '' are
# never real values (ts >= 2020, kind is always set). The array is built from the event's
# own columns, so the planner unnests it in place (a correlate), not as a join.
GROUPING_ROWS_VIEW_SQL = """
CREATE TEMPORARY VIEW grouping_rows AS
SELECT m.room_id, g.wstart, g.kind, g.gift_id,
       m.likes, m.gift_count, m.gift_value, m.first_seen, m.late, m.ts
FROM marked AS m CROSS JOIN UNNEST(ARRAY[
  ROW(CAST(-1 AS BIGINT), '', -1),
  ROW(m.wstart, '', -1),
  ROW(CAST(-1 AS BIGINT), m.kind, m.gift_id)]) AS g(wstart, kind, gift_id)
WHERE g.kind <> 'like'"""


# One aggregation for the three tables, grouped by the plain key columns of
# grouping_rows (not GROUPING SETS: the COALESCE over the keys a grouping set leaves out
# hid the key from the planner, so every truth left the JVM as a retraction and an update,
# and Python discarded half of what it received). The result has a primary key and leaves
# the JVM as an upsert stream: one row per changed truth and flush, no retractions. max_ts,
# the newest event time a truth covers, is for the sink's persistence_delay_ms metric.
# The truth rows never expire (STATE_TTL 0); only the dedup state ages out
# (table.exec.state.ttl).
TRUTH_SQL = """
SELECT /*+ STATE_TTL('grouping_rows' = '0') */
       room_id, wstart, kind, gift_id,
       SUM(likes * first_seen) AS likes,
       SUM(gift_count * first_seen) AS gift_count,
       SUM(gift_value * first_seen) AS gift_value,
       CAST(SUM(first_seen) AS BIGINT) AS events,
       CAST(SUM(1 - first_seen) AS BIGINT) AS duplicates,
       CAST(SUM(late * first_seen) AS BIGINT) AS late_events,
       MAX(ts) AS max_ts
FROM grouping_rows
GROUP BY room_id, wstart, kind, gift_id"""

TRUTH_KEY_TYPES = {"room_id": DataTypes.BIGINT().not_null(),
                   "wstart": DataTypes.BIGINT().not_null(),
                   "kind": DataTypes.STRING().not_null(),
                   "gift_id": DataTypes.INT().not_null()}  # the key; the sums are BIGINT


def _truth_schema() -> Schema:
    b = Schema.new_builder()
    for name in TRUTH_FIELDS:
        b = b.column(name, TRUTH_KEY_TYPES.get(name, DataTypes.BIGINT()))
    return b.primary_key(*TRUTH_KEY_TYPES).build()


TRUTH_SCHEMA = _truth_schema()


MINI_BATCH_MAX_RECORDS = 200_000


def configure_tables(t_env: StreamTableEnvironment, s: Settings) -> None:
    c = t_env.get_config()
    c.set("table.exec.mini-batch.enabled", "true")
    c.set("table.exec.mini-batch.allow-latency", f"{s.flush_ms} ms")
    # Flushes by time, not by count: a mini-batch also ends after this many input records,
    # and at 20,000 (the value before) a backlog ended one every ~20,000 records per subtask,
    # so every changed row became a truth for the sink several times a second however long
    # --flush-ms was. At 200,000 (three grouping rows an event) a 500 ms flush is due to the
    # clock up to ~130,000 events/s per subtask; the bundle holds one accumulator per
    # distinct row, not the records.
    c.set("table.exec.mini-batch.size", str(MINI_BATCH_MAX_RECORDS))
    c.set("table.optimizer.agg-phase-strategy", "TWO_PHASE")  # pre-aggregate hot rooms
    c.set("table.exec.state.ttl", f"{s.dedup_horizon_ms} ms")  # the dedup horizon
    # the truth query's upsert key is its grouping key: no extra materialisation needed
    c.set("table.exec.sink.upsert-materialize", "NONE")


def dead_letters_ddl(s: Settings) -> str:
    """Transactional: a dead letter is published once per checkpoint, also after restarts."""
    return f"""
CREATE TEMPORARY TABLE dead_letters (
  `letter` STRING
) WITH (
  'connector' = 'kafka',
  'topic' = {_sql_str(s.dlq_topic)},
  'properties.bootstrap.servers' = {_sql_str(s.bootstrap)},
  'properties.transaction.timeout.ms' = '600000',
  'format' = 'raw',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = {_sql_str(s.group_id + '-dlq')}{_client_options(s)}
)"""


DECODED_SQL = """
SELECT d.* FROM raw_events, LATERAL TABLE(
  decode_events(`value`, `topic`, `kts`, `ts_type`, `key`, `partition`, `offset`)) AS d"""

EVENTS_SQL = """
SELECT kind, id_hi, id_lo, room_id, gift_id, likes, gift_count, gift_value, ts, late, proctime
FROM decoded WHERE letter IS NULL"""


def register_decoder(t_env: StreamTableEnvironment, s: Settings) -> str:
    """Registers the table function ``decode_events``, the job's Java decoder
    (``livecounters.DecodeEvents``, shipped as ``jobs.runtime.job_jar``), configured from the
    topics, the event contract and schemas/ (``decode.decoder_config``); returns the SQL that
    applies it to ``raw_events``."""
    from pyflink.java_gateway import get_gateway

    config = decoder_config(s.likes_topic, s.gifts_topic, s.watermark_delay_ms)
    t_env._j_tenv.createTemporaryFunction(
        "decode_events", get_gateway().jvm.livecounters.DecodeEvents(config))
    return DECODED_SQL


def decoded_table(t_env: StreamTableEnvironment, s: Settings, bounded: bool = False,
                  decoder=register_decoder) -> None:
    """The view ``decoded``: every Kafka record, decoded (a dead letter or an event), with a
    processing-time column. It passes through a DataStream once so that the events and the
    dead letters read one decode step (each query on a SQL view is planned apart).
    ``bounded``: see ``source_ddl``; ``decoder``: registers ``decode_events`` and returns the
    SQL applying it (the benchmark measures Python decoders with it)."""
    t_env.execute_sql(source_ddl(s, bounded))
    decoded = t_env.to_data_stream(t_env.sql_query(decoder(t_env, s)))
    t_env.create_temporary_view("decoded", t_env.from_data_stream(
        decoded, Schema.new_builder().column_by_expression("proctime", "PROCTIME()").build()))


def truth_query_views(t_env: StreamTableEnvironment, s: Settings) -> None:
    """The views TRUTH_SQL reads, over the view ``events``: ``marked`` (window, late, first
    seen) and ``grouping_rows`` (an event's counter rows)."""
    t_env.execute_sql(marked_view_sql(s))
    t_env.execute_sql(GROUPING_ROWS_VIEW_SQL)


def truth_stream(t_env: StreamTableEnvironment, s: Settings) -> DataStream:
    """The view ``events`` (valid events with a processing-time column) -> the upsert stream
    of counter-row truths (JVM)."""
    truth_query_views(t_env, s)
    return t_env.to_changelog_stream(t_env.sql_query(TRUTH_SQL), TRUTH_SCHEMA,
                                     ChangelogMode.upsert())


def build(env: StreamExecutionEnvironment, t_env: StreamTableEnvironment, s: Settings,
          owner: str) -> None:
    """The job's graph; ``owner`` names this run in the keyspace's writer lease."""
    configure_tables(t_env, s)
    decoded_table(t_env, s)
    t_env.create_temporary_view("events", t_env.sql_query(EVENTS_SQL))
    t_env.execute_sql(dead_letters_ddl(s))
    dead_letters = t_env.create_statement_set()
    dead_letters.add_insert_sql("INSERT INTO dead_letters SELECT letter FROM decoded "
                                "WHERE letter IS NOT NULL")
    dead_letters.attach_as_datastream()

    truths = truth_stream(t_env, s)
    # The hold keys the truths by counter row in the JVM (a Python key_by would send every
    # truth through Python twice), in a task of its own: while the sink waits for its writes
    # before a checkpoint barrier, the aggregation goes on folding new events into truths.
    # The sink reads forward from the hold, chained to it: each row has one writer.
    (held(truths, s).forward()
        .process(CounterSink(s, owner)).name("cassandra-counters").uid("cassandra-counters"))


def _field_types() -> str:
    """The truth rows' field types for the hold: L (BIGINT), I (INT), S (STRING)."""
    from pyflink.table.types import BigIntType, IntType, VarCharType

    letters = {BigIntType: "L", IntType: "I", VarCharType: "S"}
    return "".join(letters[type(TRUTH_KEY_TYPES.get(name, DataTypes.BIGINT()))]
                   for name in TRUTH_FIELDS)


def held(truths: DataStream, s: Settings) -> DataStream:
    """``truths`` keyed by counter row through the job's Java operator
    ``livecounters.TruthHold`` (``jobs/counters/jvm``, shipped as ``jobs.runtime.job_jar``):
    while the job is behind it holds the newest truth of each row in keyed state and lets the
    held truths go in rounds (``logic.HoldPolicy``), so a row that changes many times in a
    backlog crosses into Python and is written once a round; while live every truth passes at
    once. Before each checkpoint barrier and at the end of input it sends a marker row (kind
    DELETE, room_id -1), so the Python sink after it knows which of its bundle ends precedes a
    barrier: only there must it wait for its writes (``counter_sink.CounterSink``). Keyed by
    the row, it gives each row one writer: the sink reads forward from it."""
    from pyflink.java_gateway import get_gateway

    assert TRUTH_FIELDS[:len(TRUTH_KEY_TYPES)] == tuple(TRUTH_KEY_TYPES), "key fields first"
    assert TRUTH_FIELDS[-1] == "max_ts", "the hold reads max_ts last"
    hold = get_gateway().jvm.livecounters.TruthHold
    types, keys = _field_types(), len(TRUTH_KEY_TYPES)
    j = truths._j_data_stream
    keyed = j.keyBy(hold.keySelector(keys), hold.keyType(types, keys))
    operator = hold(types, keys, j.getType(), s.hold_ms, BEHIND_MS)
    return (DataStream(keyed.transform("truth-hold", j.getType(), operator))
            .name("truth-hold").uid("truth-hold"))
