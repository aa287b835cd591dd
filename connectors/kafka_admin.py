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
