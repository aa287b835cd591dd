"""The dedup and the aggregation, in Flink SQL: every valid event marked first-seen or not (by
its id), turned into the counter rows it adds to, and summed per row into the truth stream."""

from __future__ import annotations

from pyflink.datastream import DataStream
from pyflink.table import ChangelogMode, StreamTableEnvironment

from jobs.counters import truth
from jobs.counters.settings import Settings


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


def truth_query_views(t_env: StreamTableEnvironment, s: Settings) -> None:
    """The views TRUTH_SQL reads, over the view ``events``: ``marked`` (window, late, first
    seen) and ``grouping_rows`` (an event's counter rows)."""
    t_env.execute_sql(marked_view_sql(s))
    t_env.execute_sql(GROUPING_ROWS_VIEW_SQL)


def truth_stream(t_env: StreamTableEnvironment, s: Settings) -> DataStream:
    """The view ``events`` (valid events with a processing-time column) -> the upsert stream
    of counter-row truths (JVM)."""
    truth_query_views(t_env, s)
    return t_env.to_changelog_stream(t_env.sql_query(TRUTH_SQL), truth.schema(),
                                     ChangelogMode.upsert())
