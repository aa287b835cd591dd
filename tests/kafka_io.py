"""Small Kafka helpers shared by tests: produce a list, read a topic to its end."""

from __future__ import annotations

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for v in values:
            producer.send(topic, v)
        producer.flush(timeout=30)
    finally:
        producer.close()


def read_all(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every message of ``topic`` from the beginning to its end offsets as of now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=int(timeout_s * 1000))
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        out: list[bytes] = []
        if all(end[tp] == 0 for tp in parts):
            return out
        for msg in consumer:
            out.append(msg.value)
            if all(consumer.position(tp) >= end[tp] for tp in parts):
                break
        return out
    finally:
        consumer.close()
