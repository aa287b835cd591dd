"""The Flink settings the counting job sets for itself, so that they hold on any cluster
whatever its defaults. The cluster's own settings (memory, checkpoint storage, restart
strategy, metrics) are flink-conf/config.yaml; an embedded run reads that file too
(``jobs/runtime.py``). The measurements behind each value are in docs/performance.md."""

from __future__ import annotations

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from jobs.counters.settings import Settings

# Elements a Python operator takes in before it waits for Python to finish them: it bounds
# what waits in the JVM's direct memory for a Python worker (a million made a 10M-event backlog
# fail with "OutOfMemoryError: Direct buffer memory"). At live rates bundles end by time.
BUNDLE_MAX_ELEMENTS = 100_000

# A mini-batch also ends after this many input records: at 200,000 (three grouping rows an
# event) a 500 ms flush is due to the clock up to ~130,000 events/s per subtask, so a backlog
# does not turn every changed row into a truth several times a second.
MINI_BATCH_MAX_RECORDS = 200_000


def python_bundles(bundle_ms: int) -> Configuration:
    """Python bundles end after ``bundle_ms`` or ``BUNDLE_MAX_ELEMENTS``. PyFlink holds a
    Python operator's input until its bundle ends, so the bundle time is a floor under how
    soon a count is visible; the sink waits for its writes only at the bundle end before a
    checkpoint barrier."""
    conf = Configuration()
    conf.set_string("python.fn-execution.bundle.size", str(BUNDLE_MAX_ELEMENTS))
    conf.set_string("python.fn-execution.bundle.time", str(bundle_ms))
    return conf


def engine_options() -> Configuration:
    """For the dedup, which looks up and writes every event's id in RocksDB, almost always an
    id it has never seen:

    - ``state.backend.rocksdb.use-bloom-filter``: a lookup of an absent id is answered by a
      filter instead of reading index and data blocks of every level;
    - ``state.backend.rocksdb.memory.partitioned-index-filters``: index and filter blocks in
      small partitions, so a large filter is not evicted as soon as it is read (the dedup then
      stalls: docs/performance.md);
    - ``pipeline.object-reuse``: chained operators hand a row on instead of copying it. The
      job's JVM operators keep no row they were handed (``TruthHold`` copies what it holds);
      its Python operators get rows serialized."""
    conf = Configuration()
    conf.set_string("state.backend.rocksdb.use-bloom-filter", "true")
    conf.set_string("state.backend.rocksdb.memory.partitioned-index-filters", "true")
    conf.set_string("pipeline.object-reuse", "true")
    return conf


def configure_tables(t_env: StreamTableEnvironment, s: Settings) -> None:
    """The SQL planner's settings of the dedup and the aggregation."""
    c = t_env.get_config()
    c.set("table.exec.mini-batch.enabled", "true")
    c.set("table.exec.mini-batch.allow-latency", f"{s.flush_ms} ms")
    c.set("table.exec.mini-batch.size", str(MINI_BATCH_MAX_RECORDS))  # flushes by time
    c.set("table.optimizer.agg-phase-strategy", "TWO_PHASE")  # pre-aggregate hot rooms
    c.set("table.exec.state.ttl", f"{s.dedup_horizon_ms} ms")  # the dedup horizon
    # the truth query's upsert key is its grouping key: no extra materialisation needed
    c.set("table.exec.sink.upsert-materialize", "NONE")


def configure(env: StreamExecutionEnvironment, s: Settings) -> StreamTableEnvironment:
    """Every engine setting of the job on ``env``; the table environment for its SQL."""
    env.configure(python_bundles(s.bundle_ms))
    env.configure(engine_options())
    if s.checkpoint_interval_ms:
        env.enable_checkpointing(s.checkpoint_interval_ms)
    t_env = StreamTableEnvironment.create(env)
    configure_tables(t_env, s)
    return t_env
