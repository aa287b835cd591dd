"""Run the counting job: ``python -m jobs.counters.main`` (embedded mini-cluster) or
``flink run -py jobs/counters/main.py`` (a cluster). See ``--help`` for the settings.

parse the settings -> connect to Cassandra -> guard the start (``start_guard``) -> configure
the engine (``engine``) -> build the graph (``graph``) -> execute.
"""

from __future__ import annotations

import logging
import sys

from connectors.cassandra_counters import connect_cluster
from connectors.writer_lease import new_owner
from jobs.counters.settings import Settings
from jobs.counters.start_guard import prepare

log = logging.getLogger("jobs.counters.main")


def main(argv: list[str] | None = None) -> None:
    settings = Settings.parse(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("jobs").setLevel(logging.INFO)  # PyFlink sets the root logger to WARNING
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

    # Imported only now: importing the graph builds PyFlink objects, which start the embedded
    # gateway JVM, and that must read the configuration ``prepare`` set up first.
    from jobs.counters import engine, graph

    t_env = engine.configure(env, settings)
    graph.build(env, t_env, settings, owner)
    env.execute("live-counters")


if __name__ == "__main__":
    main()
