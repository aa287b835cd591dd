"""Kafka administration the product needs: creating its topics."""

from __future__ import annotations

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


def ensure_topics(bootstrap: str, names: list[str], partitions: int = 4,
                  replication: int = 1, configs: dict[str, str] | None = None,
                  client: dict | None = None) -> None:
    """Create the topics that do not exist yet. Existing topics are left as they are.
    ``client``: kafka-python settings (``KafkaConfig.kafka_python()``: TLS, SASL)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000,
                             **(client or {}))
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(n, partitions, replication, topic_configs=configs or {})
                   for n in names if n not in existing]
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=10_000)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another caller
    finally:
        admin.close()


def end_offsets(bootstrap: str, topics: list[str], client: dict | None = None,
                request_timeout_ms: int = 15_000) -> dict[tuple[str, int], int]:
    """The end offset of every partition of ``topics``, by (topic, partition). ``client``:
    kafka-python security settings (``KafkaConfig.kafka_python()``)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms,
                             **(client or {}))
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in sorted(consumer.partitions_for_topic(t) or ())]
        got = consumer.end_offsets(parts) if parts else {}
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): off for tp, off in got.items()}
