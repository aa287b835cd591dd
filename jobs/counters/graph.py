"""The counting job's graph, stage by stage (docs/exactly-once.md says why it is exactly-once).

    Kafka live.likes + live.gifts (raw bytes, offsets)           [JVM: decode/sql.py]
      -> decode + validate  --invalid-->  live.dlq (transactional) [JVM: jvm/livecounters;
                                                                    decode/spec.py its spec]
      -> dedup by a 128-bit hash of (kind, event_id), first wins   [JVM: aggregate/sql.py]
      -> truths per room, per room+window, per room+gift type      [JVM: aggregate/sql.py,
         (mini-batched: one update per changed row per flush)       local-global]
      -> hold, keyed by counter row: while behind, the newest      [JVM: jvm/livecounters;
         truth per row, let go in rounds; a marker row before       aggregate/hold.py its
         each checkpoint barrier                                    spec]
      -> Cassandra counter rows brought to their truth             [Python: sink/, chained
                                                                    to the hold]

Per-event work stays in the JVM; Python sees a row only after aggregation: while live once per
changed counter row and flush, while behind once per changed row and round.
"""

from __future__ import annotations

from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway
from pyflink.table import StreamTableEnvironment

from jobs.counters import truth
from jobs.counters.aggregate.hold import BEHIND_MS
from jobs.counters.aggregate.sql import truth_stream
from jobs.counters.decode.sql import EVENTS_SQL, dead_letters_ddl, decoded_table
from jobs.counters.settings import Settings
from jobs.counters.sink.counter_sink import CounterSink


def build(env: StreamExecutionEnvironment, t_env: StreamTableEnvironment, s: Settings,
          owner: str) -> None:
    """The job's graph; ``owner`` names this run in the keyspace's writer lease."""
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


def held(truths: DataStream, s: Settings) -> DataStream:
    """``truths`` keyed by counter row through the job's Java operator
    ``livecounters.TruthHold`` (shipped as ``jobs.runtime.job_jar``): while the job is behind
    it holds the newest truth of each row in keyed state and lets them go in rounds
    (``aggregate/hold.HoldPolicy``); while live every truth passes at once. Before each
    checkpoint barrier and at the end of input it sends the marker row (``truth.MARKER_ROOM``),
    so the sink knows which of its bundle ends precedes a barrier: only there must it wait for
    its writes."""
    hold = get_gateway().jvm.livecounters.TruthHold
    types, keys = truth.field_types(), len(truth.KEY_TYPES)
    j = truths._j_data_stream
    keyed = j.keyBy(hold.keySelector(keys), hold.keyType(types, keys))
    operator = hold(types, keys, j.getType(), s.hold_ms, BEHIND_MS)
    return (DataStream(keyed.transform("truth-hold", j.getType(), operator))
            .name("truth-hold").uid("truth-hold"))
