"""Kafka administration the product needs: creating its topics, reading end offsets, and
asking again while a cluster is in a passing state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)
T = TypeVar("T")


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

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms,
                             **(client or {}))
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in sorted(consumer.partitions_for_topic(t) or ())]
        got = consumer.end_offsets(parts) if parts else {}
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): off for tp, off in got.items()}


def retry_retriable(call: Callable[[], T], timeout_s: float = 60.0, pause_s: float = 1.0,
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``, again while it raises a retriable Kafka error, for up to ``timeout_s``.

    A fresh cluster answers the first request for a group coordinator with
    ``CoordinatorNotAvailable`` while it creates ``__consumer_offsets``, and a cluster that just
    lost a broker answers ``NotLeaderOrFollower`` until a new leader is elected: both are
    passing states, not a reason to refuse to start. Other errors are raised at once.
    """

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() + pause_s > deadline:
                raise
            log.info("Kafka answered %s; asking again in %.0f s", type(exc).__name__, pause_s)
            sleep(pause_s)
