"""``scripts/provision``: the Kafka topics and the Cassandra schema the counting job needs.

Idempotent: what exists is left as it is (an existing topic keeps its partitions and
replication). The event topics record the broker's append time (``LogAppendTime``): the job
uses it as its clock for the "more than 1 hour ahead" rule, so a replay gives the same verdict.
"""

from __future__ import annotations

import argparse
import logging
import sys

from connectors.cassandra_counters import connect_cluster
from connectors.cassandra_schema import migrate
from connectors.kafka_admin import ensure_topics
from jobs.counters.settings import Settings

EVENT_TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime"}

# the settings provisioning reads (the job's other settings do not concern it)
SETTINGS = ("bootstrap", "kafka_config", "likes_topic", "gifts_topic", "dlq_topic",
            "cassandra_hosts", "cassandra_port", "keyspace", "replication")


def provision(s: Settings, partitions: int = 4, replication: int = 1,
              topic_config: dict[str, str] | None = None,
              min_insync_replicas: int | None = None) -> None:
    """Create what is missing; ``topic_config`` adds to the event topics' configuration."""

    common = ({"min.insync.replicas": str(min_insync_replicas)}
              if min_insync_replicas is not None else {})
    client = s.kafka.kafka_python()
    ensure_topics(s.bootstrap, [s.likes_topic, s.gifts_topic], partitions, replication,
                  common | EVENT_TOPIC_CONFIG | (topic_config or {}), client)
    ensure_topics(s.bootstrap, [s.dlq_topic], partitions, replication, common, client)
    cluster = connect_cluster(s.cassandra_hosts, s.cassandra_port)
    try:
        migrate(cluster.connect(), s.keyspace, s.replication_map)
    finally:
        cluster.shutdown()


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/provision",
        description="Create the counting job's Kafka topics (events and dead letters) and its "
                    "Cassandra keyspace and counter tables (and roles when authentication is "
                    "on). Idempotent: what exists is left as it is.",
        epilog="On a replicated cluster, e.g.: scripts/provision --replication-factor 3 "
               "--min-insync-replicas 2 --replication NetworkTopologyStrategy:dc1=3")
    t = p.add_argument_group("Kafka topics")
    t.add_argument("--partitions", type=_positive, default=4, metavar="N",
                   help="partitions of each new topic (the job's source parallelism is at "
                        "most this) [default 4]")
    t.add_argument("--replication-factor", type=_positive, default=1, metavar="N",
                   help="replicas of each new topic; at most the number of brokers "
                        "[default 1]")
    t.add_argument("--min-insync-replicas", type=_positive, default=None, metavar="N",
                   help="min.insync.replicas of each new topic (with acks=all, a write "
                        "needs this many replicas) [default: the broker's]")
    Settings.add_arguments(p, SETTINGS)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    a = p.parse_args(argv)
    if a.min_insync_replicas is not None and a.min_insync_replicas > a.replication_factor:
        p.error(f"--min-insync-replicas {a.min_insync_replicas} is more than "
                f"--replication-factor {a.replication_factor}: no write could succeed")
    s = Settings.from_namespace(a, p)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    provision(s, a.partitions, a.replication_factor,
              min_insync_replicas=a.min_insync_replicas)
    print(f"[provision] topics {s.likes_topic}, {s.gifts_topic}, {s.dlq_topic} on {s.bootstrap} "
          f"({a.partitions} partitions, replication {a.replication_factor}); "
          f"keyspace {s.keyspace} ({s.replication}) on {','.join(s.cassandra_hosts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
