"""Run the counting job: ``python -m jobs.counters.main`` (embedded mini-cluster) or
``flink run -py jobs/counters/main.py`` (a cluster). See ``--help`` for the settings.

Before the job starts, this driver takes the keyspace's writer lease
(``connectors.writer_lease``): it refuses to start a second counting job on a keyspace that a
running job writes.
"""

from __future__ import annotations

import logging
import sys
import time

from jobs.counters.settings import Settings

log = logging.getLogger("jobs.counters.main")


def python_bundles(bundle_ms: int):
    """Python bundles of ``bundle_ms`` (or a million elements). The sink writes continuously
    on its own thread and waits for its writes at every bundle end (Flink also ends a bundle
    before each checkpoint barrier): with PyFlink's default of a bundle a second, that wait
    throttles a backlog every second. But PyFlink also buffers a Python operator's input for
    up to a bundle's time, so the bundle is a floor under the latency: ``--bundle-ms`` picks
    the trade-off (BENCHMARKS.md)."""
    from pyflink.common import Configuration

    conf = Configuration()
    conf.set_string("python.fn-execution.bundle.size", "1000000")
    conf.set_string("python.fn-execution.bundle.time", str(bundle_ms))
    return conf


class StartRefused(Exception):
    """The job must not start; ``str()`` says why and what to do."""


def take_writer_lease(s: Settings, owner: str, say=log.warning) -> None:
    """Claim the keyspace's writer lease for ``owner``. A lease its job no longer renews is
    waited out; one a running job renews is waited for up to ``s.lease_wait_ms``, then
    StartRefused."""
    from cassandra import InvalidRequest

    from connectors.cassandra_sink import connect_cluster
    from connectors.writer_lease import LeaseHeld, WriterLease

    cluster = connect_cluster(s.cassandra_hosts, s.cassandra_port)
    try:
        try:
            lease = WriterLease(cluster.connect(), s.keyspace)
        except InvalidRequest as exc:
            raise StartRefused(f"keyspace {s.keyspace} has no writer_lease table ({exc}): run "
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
    finally:
        cluster.shutdown()


def main(argv: list[str] | None = None) -> None:
    settings = Settings.parse(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from connectors.writer_lease import new_owner

    owner = new_owner()
    try:
        take_writer_lease(settings, owner)
    except StartRefused as exc:
        print(f"error: the counting job does not start: {exc}", file=sys.stderr)
        sys.exit(3)
    log.info("writer lease of keyspace %s taken by %s", settings.keyspace, owner)

    from jobs.runtime import execution_environment, kafka_connector_jar

    # first: the execution environment prepares the embedded JVM before anything starts it
    # (importing the pipeline does: its operators module builds PyFlink objects)
    env = execution_environment([kafka_connector_jar()], settings.parallelism or None)

    from pyflink.table import StreamTableEnvironment

    from jobs.counters.pipeline import build

    env.configure(python_bundles(settings.bundle_ms))
    if settings.checkpoint_interval_ms:
        env.enable_checkpointing(settings.checkpoint_interval_ms)
    t_env = StreamTableEnvironment.create(env)
    build(env, t_env, settings, owner)
    env.execute("live-counters")


if __name__ == "__main__":
    main()
