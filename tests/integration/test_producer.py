"""The app-facing producer library against the real Kafka."""

from __future__ import annotations

import pytest

from connectors.avro_codec import SchemaRegistry
from connectors.producer import CounterProducer, ProduceError
from tests.kafka_io import read_all

pytestmark = pytest.mark.integration


class FakeClock:
    def __init__(self, t: int = 1_763_700_000_000):
        self.t = t

    def __call__(self) -> int:
        return self.t


def _decoded(bootstrap, topic):
    reg = SchemaRegistry()
    return [reg.decode(v)[1] for v in read_all(bootstrap, topic)]


def test_rapid_likes_of_one_user_are_merged(kafka_bootstrap, new_topic):
    likes, gifts = new_topic(), new_topic()
    clock = FakeClock()
    with CounterProducer(kafka_bootstrap, likes_topic=likes, gifts_topic=gifts, merge_ms=3000,
                         clock=clock) as p:
        for _ in range(10):
            p.like(room_id=42, user_id=7)
            clock.t += 200                      # 10 taps in 2 s
        p.like(room_id=42, user_id=8, count=3)  # another user: its own event
        clock.t += 5000
        p.like(room_id=42, user_id=7)           # after the merge interval: a new event
    got = sorted(_decoded(kafka_bootstrap, likes), key=lambda r: (r["user_id"], r["ts"]))
    assert [(r["room_id"], r["user_id"], r["count"]) for r in got] == [
        (42, 7, 10), (42, 7, 1), (42, 8, 3)]
    assert got[0]["ts"] == 1_763_700_000_000    # the first tap's time
    assert len({r["event_id"] for r in got}) == 3


def test_gift_is_sent_keyed_by_room_and_returns_its_id(kafka_bootstrap, new_topic):
    from kafka import KafkaConsumer, TopicPartition

    likes, gifts = new_topic(), new_topic(partitions=1)
    with CounterProducer(kafka_bootstrap, likes_topic=likes, gifts_topic=gifts,
                         merge_ms=0) as p:
        event_id = p.gift(room_id=1234, user_id=5, gift_id=9, quantity=2, unit_value=700)
    c = KafkaConsumer(bootstrap_servers=kafka_bootstrap, consumer_timeout_ms=5000)
    tp = TopicPartition(gifts, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    msg = next(iter(c))
    c.close()
    assert msg.key == b"1234"
    rec = SchemaRegistry().decode(msg.value)[1]
    assert rec["event_id"] == event_id and rec["quantity"] == 2 and rec["unit_value"] == 700


@pytest.mark.parametrize(("call", "message"), [
    (lambda p: p.like(room_id=0, user_id=1), "room_id"),
    (lambda p: p.like(room_id=1, user_id=1, count=0), "count"),
    (lambda p: p.gift(room_id=1, user_id=1, gift_id=1, quantity=1, unit_value=-1), "unit_value"),
])
def test_invalid_values_are_refused_at_the_call(kafka_bootstrap, call, message):
    with CounterProducer(kafka_bootstrap, merge_ms=0) as p, pytest.raises(ValueError,
                                                                          match=message):
        call(p)


def test_send_errors_reach_the_caller(kafka_bootstrap):
    p = CounterProducer(kafka_bootstrap, likes_topic="no-such-topic-live-counters",
                        merge_ms=0, max_block_ms=2000)
    try:
        with pytest.raises(ProduceError):
            p.like(room_id=1, user_id=1)
            p.flush(timeout=10)
    finally:
        p._producer.close(timeout=5)
