"""Run the counting job: ``python -m jobs.counters.main`` (embedded mini-cluster) or
``flink run -py jobs/counters/main.py`` (a cluster). See ``--help`` for the settings.

Before the job starts, this driver takes the keyspace's writer lease
(``connectors.writer_lease``): it refuses to start a second counting job on a keyspace that a
running job writes. It also refuses to start without restored state where an earlier run has
counted (``counted_without_state``).
"""

from __future__ import annotations

import logging
import sys
import time

from jobs.counters.settings import Settings

log = logging.getLogger("jobs.counters.main")


# Elements a Python operator takes in before it waits for Python to finish them (a bundle
# ends at this count or after bundle_ms, whichever comes first). It bounds what the JVM has
# sent a Python worker and not had back: those records wait in the JVM's direct memory (the
# gRPC channel's buffers). With a million, a 10,000,000-event backlog put up to a million
# Kafka records per decode subtask in flight and the TaskManager failed with "OutOfMemoryError:
# Direct buffer memory" over and over; 100,000 records (about 11 MB of Arrow batches per
# subtask) drains it with no restart. At live rates bundles still end by time.
BUNDLE_MAX_ELEMENTS = 100_000


def python_bundles(bundle_ms: int):
    """Python bundles of ``bundle_ms`` or ``BUNDLE_MAX_ELEMENTS``, whichever comes first.
    PyFlink holds a Python operator's input until its bundle ends (or 1 MB of it collects:
    Beam's data buffer has no time limit here), so the bundle time is a floor under how soon
    a count is visible, paid twice (the decode, then the sink). The sink waits for its
    writes only at the bundle end before a checkpoint barrier (Flink ends a bundle there;
    ``pipeline.held`` marks it); in a task of its own, that wait does not stop the
    aggregation. Measured before the sink waited at every bundle end on 2 cores
    (2026-11-30, ``scripts/bench --quick --only latency --rates 20000``): p99 produce ->
    visible 1.2-1.4 s with 50 ms bundles and 500 ms flushes, 1.9 s with 200 ms bundles, 2.2 s
    with 200 ms bundles and 1 s flushes; a backlog drains about 10% faster with 200 ms
    bundles and 1 s flushes (and faster still with 10 s bundles)."""
    from pyflink.common import Configuration

    conf = Configuration()
    conf.set_string("python.fn-execution.bundle.size", str(BUNDLE_MAX_ELEMENTS))
    conf.set_string("python.fn-execution.bundle.time", str(bundle_ms))
    return conf


def engine_options():
    """Flink settings the job's own work asks for, set by the job so that they hold on any
    cluster whatever its defaults. All three are for the dedup, which looks up and writes
    every event's id in RocksDB (10M ids in the live-platform benchmark, 2 h of ids on a
    platform), almost always an id it has never seen:

    - ``state.backend.rocksdb.use-bloom-filter``: a lookup of an id that is not there is
      answered by a filter instead of reading index and data blocks of every level;
    - ``state.backend.rocksdb.memory.partitioned-index-filters``: index and filter blocks cut
      into small partitions under a pinned top level. Without it each SST file's index and
      filter are single blocks that grow with the file (3.8 MB of filter at 3M ids a
      subtask), larger than a shard of the slot's block cache (3.77 MB here); such a block
      is evicted as soon as it is read, and every lookup reads it again (the dedup then
      stalls: README, Performance);
    - ``pipeline.object-reuse``: chained operators hand a row on instead of copying it (every
      event passes five chained operators from the dedup to the local aggregation, three
      rows an event after the unnest). The job's JVM operators (Flink's SQL operators and
      conversions, its Kafka sink, its decoder) keep no row they were handed, and
      ``livecounters.TruthHold`` copies what it holds; its Python operators get rows
      serialized."""
    from pyflink.common import Configuration

    conf = Configuration()
    conf.set_string("state.backend.rocksdb.use-bloom-filter", "true")
    conf.set_string("state.backend.rocksdb.memory.partitioned-index-filters", "true")
    conf.set_string("pipeline.object-reuse", "true")
    return conf


class StartRefused(Exception):
    """The job must not start; ``str()`` says why and what to do."""


def take_writer_lease(session, s: Settings, owner: str, say=log.warning) -> None:
    """Claim the keyspace's writer lease for ``owner``. A lease its job no longer renews is
    waited out; one a running job renews is waited for up to ``s.lease_wait_ms``, then
    StartRefused."""
    from cassandra import InvalidRequest

    from connectors.writer_lease import LeaseHeld, SinkFence, WriterLease

    try:
        lease = WriterLease(session, s.keyspace)
        SinkFence(session, s.keyspace, owner)  # the sinks' table: prepared, nothing written
    except InvalidRequest as exc:
        raise StartRefused(f"keyspace {s.keyspace} lacks a table of the job ({exc}): run "
                           "scripts/provision (idempotent) with the job's settings "
                           "first") from None
    deadline = time.monotonic() + s.lease_wait_ms / 1000
    said = 0.0
    while True:
        try:
            lease.claim(owner)
            return
        except LeaseHeld as exc:
            if exc.holder.live and time.monotonic() >= deadline:
                raise StartRefused(str(exc)) from None
            if time.monotonic() - said >= 10:
                said = time.monotonic()
                why = ("its job still renews it" if exc.holder.live else
                       "its job stopped renewing it")
                say(f"waiting for the writer lease of keyspace {s.keyspace} (held by "
                    f"{exc.holder.owner}, {why}; free in at most "
                    f"{exc.holder.ttl_left_s} s)")
            time.sleep(1.0)


def counted_without_state(s: Settings, restoring: bool, committed: dict[tuple[str, int], int],
                          keyspace_has_counts: bool) -> str | None:
    """Why a job must not start (None: it may). The sink brings rows to truths the job's
    state holds since its first run. A job started without that state over a keyspace that
    holds counts rebuilds every truth only if it reads the topics from their start: not when
    the consumer group has committed offsets (it resumes after them) or starts at the end
    (``--startup latest``). Its truths would stay below what the rows hold, and those rows
    would never move again (the sink waits for a replay that never comes)."""
    if restoring or not keyspace_has_counts:
        return None
    if committed:
        topics = ", ".join(sorted({t for t, _ in committed}))
        reads = (f"consumer group {s.group_id} has committed offsets on {topics}: it would "
                 "count only what follows them")
    elif s.startup == "latest":
        reads = "--startup latest: it would count only what follows the end of the topics"
    else:
        return None
    return (f"keyspace {s.keyspace} holds counts, but this job starts without state and "
            f"{reads}, so the rows already counted would never move again. Resume the job "
            "that counted them from its savepoint or latest retained checkpoint (flink run -s "
            "PATH ...; embedded: --from-savepoint PATH), or count into a new keyspace with a "
            "new consumer group (--keyspace, --group-id)")


def committed_offsets(s: Settings) -> dict[tuple[str, int], int]:
    """The consumer group's committed offsets on the event topics (asked again for up to a
    minute while the cluster answers with a retriable error: on a fresh cluster, the first
    job's request makes the brokers create the offsets topic)."""
    from kafka import KafkaAdminClient

    from connectors.kafka_admin import retry_retriable

    admin = KafkaAdminClient(bootstrap_servers=s.bootstrap, request_timeout_ms=15_000,
                             **s.kafka.kafka_python())
    try:
        got = retry_retriable(lambda: admin.list_group_offsets(s.group_id)).get(s.group_id, {})
    finally:
        admin.close()
    return {(tp.topic, tp.partition): om.offset for tp, om in got.items()
            if tp.topic in (s.likes_topic, s.gifts_topic) and om.offset >= 0}


def keyspace_has_counts(session, keyspace: str) -> bool:
    from connectors.cassandra_schema import keyspace_exists

    return keyspace_exists(session, keyspace) and session.execute(
        f"SELECT room_id FROM {keyspace}.room_totals LIMIT 1").one() is not None


def restore_source(conf) -> str | None:
    """Where the job's state may come from, from Flink's configuration (None: nowhere, a
    start without state): the savepoint or checkpoint of ``flink run -s`` (or
    ``--from-savepoint`` on an embedded run), or the high-availability store. With high
    availability on (the Kubernetes operator's deployments), a JobManager that comes back runs
    this driver again and the job resumes from that store, which the driver cannot see."""
    # Flink 2 reads execution.state-recovery.path (execution.savepoint.path before it)
    path = conf.get("execution.state-recovery.path") or conf.get("execution.savepoint.path")
    if path:
        return path
    ha = conf.get("high-availability.type") or conf.get("high-availability") or "NONE"
    if ha.upper() != "NONE":
        return f"the high-availability store ({ha}), if it holds this job"
    return None


def restore_path(env) -> str | None:
    return restore_source(env._j_stream_execution_environment.getConfiguration().toMap())


def prepare(session, settings: Settings, owner: str):
    """Take the writer lease and check the job may start (exit 2 or 3 if not, the lease
    released first); the job's execution environment and the savepoint or checkpoint it
    restores from (None: none)."""
    from connectors.writer_lease import WriterLease

    try:
        take_writer_lease(session, settings, owner)
    except StartRefused as exc:
        print(f"error: the counting job does not start: {exc}", file=sys.stderr)
        sys.exit(3)
    log.info("writer lease of keyspace %s taken by %s", settings.keyspace, owner)

    from jobs.runtime import execution_environment, is_submitted, job_jars

    def refuse(code: int, why: str):
        WriterLease(session, settings.keyspace).release(owner)
        print(f"error: {why}", file=sys.stderr)
        sys.exit(code)

    if settings.from_savepoint and is_submitted():
        refuse(2, "--from-savepoint is for embedded runs; a submitted job restores with "
                  "flink run -s PATH")
    # the execution environment prepares the embedded JVM before anything starts it
    # (importing the pipeline does: its Python functions' modules build PyFlink objects)
    env = execution_environment(job_jars(), settings.parallelism or None,
                                settings.from_savepoint or None)
    restoring = restore_path(env)
    try:
        refused = counted_without_state(settings, restoring is not None,
                                        committed_offsets(settings),
                                        keyspace_has_counts(session, settings.keyspace))
    except Exception as exc:  # noqa: BLE001 - Kafka or Cassandra does not answer
        refused = (f"cannot read the consumer group's offsets or the keyspace: "
                   f"{type(exc).__name__}: {exc} (check --bootstrap and --kafka-config, "
                   "--cassandra-hosts and the Cassandra credentials)")
    if refused:
        refuse(3, f"the counting job does not start: {refused}")
    return env, restoring


def main(argv: list[str] | None = None) -> None:
    settings = Settings.parse(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("jobs").setLevel(logging.INFO)  # PyFlink sets the root logger to WARNING
    from connectors.cassandra_counters import connect_cluster
    from connectors.writer_lease import new_owner

    owner = new_owner()
    # one Cassandra session for the driver's checks, closed before the job runs
    cluster = connect_cluster(settings.cassandra_hosts, settings.cassandra_port)
    try:
        try:
            session = cluster.connect()
        except Exception as exc:  # noqa: BLE001 - unreachable, refused login, TLS mismatch
            print(f"error: the counting job does not start: cannot connect to Cassandra at "
                  f"{','.join(settings.cassandra_hosts)}:{settings.cassandra_port}: "
                  f"{type(exc).__name__}: {exc} (check --cassandra-hosts, --cassandra-port "
                  "and CASSANDRA_USERNAME, CASSANDRA_PASSWORD, CASSANDRA_SSL_CA)",
                  file=sys.stderr)
            sys.exit(3)
        env, restoring = prepare(session, settings, owner)
    finally:
        cluster.shutdown()
    if restoring:
        log.info("restoring the job's state from %s", restoring)

    from pyflink.table import StreamTableEnvironment

    from jobs.counters.pipeline import build

    env.configure(python_bundles(settings.bundle_ms))
    env.configure(engine_options())
    if settings.checkpoint_interval_ms:
        env.enable_checkpointing(settings.checkpoint_interval_ms)
    t_env = StreamTableEnvironment.create(env)
    build(env, t_env, settings, owner)
    env.execute("live-counters")


if __name__ == "__main__":
    main()
