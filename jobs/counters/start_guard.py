"""The checks before the counting job starts: it takes the keyspace's writer lease (one counting
job per keyspace, ``connectors.writer_lease``) and refuses to start without restored state
where an earlier run has counted (``counted_without_state``)."""

from __future__ import annotations

import logging
import sys
import time

from cassandra import InvalidRequest
from kafka import KafkaAdminClient

from connectors.cassandra_schema import keyspace_exists
from connectors.kafka_admin import retry_retriable
from connectors.writer_lease import LeaseHeld, SinkFence, WriterLease
from jobs.counters.settings import Settings
from jobs.runtime import execution_environment, is_submitted, job_jars

log = logging.getLogger(__name__)


class StartRefused(Exception):
    """The job must not start; ``str()`` says why and what to do."""


def take_writer_lease(session, s: Settings, owner: str, say=log.warning) -> None:
    """Claim the keyspace's writer lease for ``owner``. A lease its job no longer renews is
    waited out; one a running job renews is waited for up to ``s.lease_wait_ms``, then
    StartRefused."""
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
    admin = KafkaAdminClient(bootstrap_servers=s.bootstrap, request_timeout_ms=15_000,
                             **s.kafka.kafka_python())
    try:
        got = retry_retriable(lambda: admin.list_group_offsets(s.group_id)).get(s.group_id, {})
    finally:
        admin.close()
    return {(tp.topic, tp.partition): om.offset for tp, om in got.items()
            if tp.topic in (s.likes_topic, s.gifts_topic) and om.offset >= 0}


def keyspace_has_counts(session, keyspace: str) -> bool:
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
    try:
        take_writer_lease(session, settings, owner)
    except StartRefused as exc:
        print(f"error: the counting job does not start: {exc}", file=sys.stderr)
        sys.exit(3)
    log.info("writer lease of keyspace %s taken by %s", settings.keyspace, owner)

    def refuse(code: int, why: str):
        WriterLease(session, settings.keyspace).release(owner)
        print(f"error: {why}", file=sys.stderr)
        sys.exit(code)

    if settings.from_savepoint and is_submitted():
        refuse(2, "--from-savepoint is for embedded runs; a submitted job restores with "
                  "flink run -s PATH")
    # the execution environment prepares the embedded JVM before anything starts it
    # (importing the graph does: its Python functions' modules build PyFlink objects)
    env = execution_environment(job_jars(), settings.parallelism or None,
                                settings.from_savepoint or None)
    restoring = restore_path(env)
    try:
        refused = counted_without_state(settings, restoring is not None,
                                        committed_offsets(settings),
                                        keyspace_has_counts(session, settings.keyspace))
    except Exception as exc:  # noqa: BLE001 - Kafka or Cassandra does not answer: say so
        refused = (f"cannot read the consumer group's offsets or the keyspace: "
                   f"{type(exc).__name__}: {exc} (check --bootstrap and --kafka-config, "
                   "--cassandra-hosts and the Cassandra credentials)")
    if refused:
        refuse(3, f"the counting job does not start: {refused}")
    return env, restoring
