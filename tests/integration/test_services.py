"""Smoke tests of the real services the local stack runs."""

from __future__ import annotations

import uuid

import pytest

from local_stack.cassandra import connect
from tests.kafka_io import produce, read_all

pytestmark = pytest.mark.integration


def test_kafka_produce_consume_round_trip(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=3)
    values = [uuid.uuid4().bytes for _ in range(300)]
    produce(kafka_bootstrap, topic, values)
    assert sorted(read_all(kafka_bootstrap, topic)) == sorted(values)


def test_kafka_does_not_create_topics_on_demand(kafka_bootstrap):
    from kafka import KafkaProducer
    from kafka.errors import KafkaTimeoutError

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_block_ms=3000)
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send(f"no-such-topic-{uuid.uuid4().hex}", b"x").get(timeout=5)
    finally:
        producer.close()


def test_cassandra_counter_increment_and_read(cassandra_hosts, keyspace):
    with connect(cassandra_hosts) as s:
        s.execute(f"CREATE TABLE {keyspace}.c (k bigint PRIMARY KEY, n counter, v counter)")
        upd = s.prepare(f"UPDATE {keyspace}.c SET n = n + ?, v = v + ? WHERE k = ?")
        for _ in range(10):
            s.execute(upd, (1, 5, 42))
        s.execute(upd, (-3, 0, 42))
        row = s.execute(f"SELECT n, v FROM {keyspace}.c WHERE k = 42").one()
    assert (row.n, row.v) == (7, 50)
