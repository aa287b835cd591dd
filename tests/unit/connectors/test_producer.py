"""The serializer for apps with a Kafka producer of their own: the bytes the job reads, keyed
by room, refused with the job's reason where the job would dead-letter."""

from __future__ import annotations

import pytest

from connectors.avro_codec import SchemaRegistry
from connectors.events import read_event
from connectors.producer import encode_gift, encode_like

pytestmark = pytest.mark.unit

NOW = 1_763_700_000_000


def test_a_like_encodes_as_the_job_reads_it():
    e = encode_like(room_id=42, user_id=7, count=3, ts=NOW, now_ms=NOW)
    assert e.key == b"42" and e.record["event_id"] == e.event_id and len(e.event_id) == 32
    event = read_event(SchemaRegistry(), e.value, "live.likes", "like", NOW)
    assert (event.kind, event.event_id, event.room_id, event.likes, event.ts) == (
        "like", e.event_id, 42, 3, NOW)


def test_a_gift_keeps_the_id_it_is_given_for_a_resend():
    e = encode_gift(room_id=9, user_id=1, gift_id=4, quantity=2, unit_value=250,
                    event_id="order-77", ts=NOW, now_ms=NOW)
    event = read_event(SchemaRegistry(), e.value, "live.gifts", "gift", NOW)
    assert (event.event_id, event.gift_id, event.gift_count, event.gift_value) == (
        "order-77", 4, 2, 500)
    assert e == encode_gift(room_id=9, user_id=1, gift_id=4, quantity=2, unit_value=250,
                            event_id="order-77", ts=NOW, now_ms=NOW)  # the same bytes again


@pytest.mark.parametrize(("call", "reason"), [
    (lambda: encode_like(room_id=0, user_id=1), "room_id 0 <= 0"),
    (lambda: encode_like(room_id=1, user_id=1, count=10_001), "count 10001 outside"),
    (lambda: encode_gift(room_id=1, user_id=1, gift_id=1, quantity=1, unit_value=-1),
     "unit_value -1 outside"),
    (lambda: encode_like(room_id=1, user_id=1, ts=NOW + 7_200_000, now_ms=NOW), "ahead"),
])
def test_what_the_job_would_dead_letter_is_refused_with_its_reason(call, reason):
    with pytest.raises(ValueError, match=reason):
        call()
