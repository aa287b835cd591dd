"""``scripts/provision``: the Kafka topics and the Cassandra schema the counting job needs.

Idempotent. The event topics record the broker's append time (``LogAppendTime``): the job
uses it as its clock for the "more than 1 hour ahead" rule, so a replay gives the same verdict.
"""

from __future__ import annotations

import logging
import sys

from connectors.cassandra_schema import migrate
from connectors.cassandra_sink import connect_cluster
from connectors.kafka_admin import ensure_topics
from jobs.counters.settings import Settings

EVENT_TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime"}


def provision(s: Settings, partitions: int = 4, replication: int = 1,
              topic_config: dict[str, str] | None = None) -> None:
    """Create what is missing; ``topic_config`` adds to the event topics' configuration."""
    ensure_topics(s.bootstrap, [s.likes_topic, s.gifts_topic], partitions, replication,
                  EVENT_TOPIC_CONFIG | (topic_config or {}))
    ensure_topics(s.bootstrap, [s.dlq_topic], partitions, replication)
    cluster = connect_cluster(s.cassandra_hosts, s.cassandra_port)
    try:
        migrate(cluster.connect(), s.keyspace, s.replication_map)
    finally:
        cluster.shutdown()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    s = Settings.parse(argv)
    provision(s)
    print(f"[provision] topics {s.likes_topic}, {s.gifts_topic}, {s.dlq_topic} on {s.bootstrap}; "
          f"keyspace {s.keyspace} on {','.join(s.cassandra_hosts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
