"""The app-facing producer library against the real Kafka."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from connectors.avro_codec import SchemaRegistry
from connectors.kafka_admin import ensure_topics
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


def _missing_topic() -> str:
    return f"t.missing-{uuid.uuid4().hex[:8]}"   # the local broker creates no topic by itself


def _merge_thread_alive() -> bool:
    return any(t.name == "counter-producer-merge" and t.is_alive() for t in threading.enumerate())


def test_a_failed_merged_like_is_reported_and_can_be_resent(kafka_bootstrap):
    likes = _missing_topic()
    p = CounterProducer(kafka_bootstrap, likes_topic=likes, merge_ms=100, max_block_ms=1000)
    try:
        p.like(room_id=5, user_id=6, count=3)
        time.sleep(3)                   # the merge thread sends it and Kafka refuses it
        assert _merge_thread_alive()
        with pytest.raises(ProduceError) as raised:
            p.flush(timeout=10)
        [failed] = raised.value.failed
        assert failed.topic == likes and failed.room_id == 5
        assert (failed.record["user_id"], failed.record["count"]) == (6, 3)
        assert raised.value.errors == [(failed.event_id, failed.error)]

        ensure_topics(kafka_bootstrap, [likes], partitions=1)
        p.resend(failed)
        p.flush(timeout=30)
    finally:
        p.close(timeout=5)
    [got] = _decoded(kafka_bootstrap, likes)
    assert (got["event_id"], got["room_id"], got["user_id"], got["count"]) == (
        failed.event_id, 5, 6, 3)


def test_the_merge_thread_sends_on_after_a_failed_send(kafka_bootstrap):
    likes = _missing_topic()
    p = CounterProducer(kafka_bootstrap, likes_topic=likes, merge_ms=100, max_block_ms=1000)
    try:
        p.like(room_id=5, user_id=6, count=3)
        time.sleep(2.5)                 # refused: no metadata for the topic within 1 s
        ensure_topics(kafka_bootstrap, [likes], partitions=1)
        p.like(room_id=5, user_id=7, count=2)
        deadline = time.monotonic() + 20
        got = []
        while not got and time.monotonic() < deadline:  # sent by the thread, not by a flush
            time.sleep(0.5)
            got = _decoded(kafka_bootstrap, likes)
        assert [(r["user_id"], r["count"]) for r in got] == [(7, 2)]
        with pytest.raises(ProduceError) as raised:
            p.flush(timeout=10)
        assert [f.record["count"] for f in raised.value.failed] == [3]
    finally:
        p.close(timeout=5)


def test_a_blocked_merged_send_does_not_block_other_callers(kafka_bootstrap):
    p = CounterProducer(kafka_bootstrap, likes_topic=_missing_topic(), merge_ms=100,
                        max_block_ms=4000)
    try:
        p.like(room_id=1, user_id=1)
        time.sleep(0.8)                 # the merge thread is now waiting for the topic's metadata
        started = time.monotonic()
        p.like(room_id=2, user_id=2)
        p.like(room_id=2, user_id=2)
        assert time.monotonic() - started < 0.5
        with pytest.raises(ProduceError) as raised:
            p.flush(timeout=20)
        assert sorted(f.room_id for f in raised.value.failed) == [1, 2]
    finally:
        p.close(timeout=5)


def test_send_errors_reach_the_caller(kafka_bootstrap):
    p = CounterProducer(kafka_bootstrap, likes_topic="no-such-topic-live-counters",
                        merge_ms=0, max_block_ms=2000)
    try:
        with pytest.raises(ProduceError):
            p.like(room_id=1, user_id=1)
            p.flush(timeout=10)
    finally:
        p._producer.close(timeout=5)
