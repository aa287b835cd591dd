"""The event contract: what makes an event valid, and the reason given when it is not."""

from __future__ import annotations

import pytest

from connectors.avro_codec import SchemaRegistry
from connectors.events import GIFT as GIFT_KIND
from connectors.events import LIKE as LIKE_KIND
from connectors.events import (
    MIN_TS_MS,
    Event,
    Invalid,
    gift_record,
    like_record,
    read_event,
    validate,
)

pytestmark = pytest.mark.unit

NOW = 1_763_700_000_000
LIKE = "live.counters.events.LikeEvent"
GIFT = "live.counters.events.GiftEvent"
L = {"event_id": "e", "room_id": 5, "user_id": 0, "count": 10, "ts": NOW}
G = {"event_id": "g", "room_id": 5, "user_id": 3, "gift_id": 7, "quantity": 2,
     "unit_value": 250, "ts": NOW}


@pytest.mark.parametrize(("name", "rec", "expected"), [
    (LIKE, L, Event("like", "e", 5, 0, 0, 10, 0, 0, NOW)),
    (GIFT, G, Event("gift", "g", 5, 3, 7, 0, 2, 500, NOW)),
    (GIFT, {**G, "unit_value": 0}, Event("gift", "g", 5, 3, 7, 0, 2, 0, NOW)),
    (LIKE, {**L, "count": 1}, Event("like", "e", 5, 0, 0, 1, 0, 0, NOW)),
    (LIKE, {**L, "count": 10_000}, Event("like", "e", 5, 0, 0, 10_000, 0, 0, NOW)),
    (LIKE, {**L, "ts": MIN_TS_MS}, Event("like", "e", 5, 0, 0, 10, 0, 0, MIN_TS_MS)),
    (LIKE, {**L, "ts": NOW + 3_600_000}, Event("like", "e", 5, 0, 0, 10, 0, 0, NOW + 3_600_000)),
    (LIKE, {**L, "ts": NOW - 7 * 86_400_000}, Event("like", "e", 5, 0, 0, 10, 0, 0,
                                                    NOW - 7 * 86_400_000)),
    (GIFT, {**G, "quantity": 10_000, "unit_value": 10**9},
     Event("gift", "g", 5, 3, 7, 0, 10_000, 10**13, NOW)),
])
def test_valid(name, rec, expected):
    assert validate(name, rec, NOW) == expected


@pytest.mark.parametrize(("name", "rec", "reason"), [
    (LIKE, {**L, "event_id": ""}, "empty event_id"),
    (LIKE, {**L, "room_id": 0}, "room_id 0 <= 0"),
    (LIKE, {**L, "room_id": -3}, "room_id -3 <= 0"),
    (LIKE, {**L, "user_id": -1}, "user_id -1 < 0"),
    (LIKE, {**L, "count": 0}, "count 0 outside"),
    (LIKE, {**L, "count": 10_001}, "count 10001 outside"),
    (LIKE, {**L, "count": -5}, "count -5 outside"),
    (GIFT, {**G, "quantity": 0}, "quantity 0 outside"),
    (GIFT, {**G, "quantity": 10_001}, "quantity 10001 outside"),
    (GIFT, {**G, "unit_value": -1}, "unit_value -1 outside"),
    (GIFT, {**G, "unit_value": 10**9 + 1}, "unit_value 1000000001 outside"),
    (LIKE, {**L, "ts": 0}, "before 2020-01-01"),
    (LIKE, {**L, "ts": MIN_TS_MS - 1}, "before 2020-01-01"),
    (LIKE, {**L, "ts": NOW + 3_600_001}, "more than 1 hour ahead"),
    (LIKE, {**L, "ts": 4_102_444_800_000}, "more than 1 hour ahead"),  # year 2100
    ("x.Other", L, "unexpected record type"),
])
def test_invalid(name, rec, reason):
    result = validate(name, rec, NOW)
    assert isinstance(result, Invalid) and reason in result.reason


REG = SchemaRegistry()


def like_bytes(**over) -> bytes:
    return REG.encode(like_record("e1", 5, 1, 3, NOW) | over, REG.schema("LikeEvent"))


def gift_bytes(**over) -> bytes:
    return REG.encode(gift_record("g1", 5, 1, 7, 2, 100, NOW) | over, REG.schema("GiftEvent"))


@pytest.mark.parametrize(("value", "topic_kind", "expected"), [
    (like_bytes(), LIKE_KIND, Event(LIKE_KIND, "e1", 5, 1, 0, 3, 0, 0, NOW)),
    (gift_bytes(), GIFT_KIND, Event(GIFT_KIND, "g1", 5, 1, 7, 0, 2, 200, NOW)),
    (gift_bytes(), LIKE_KIND, "gift event on topic t"),
    (like_bytes(), GIFT_KIND, "like event on topic t"),
    (like_bytes(room_id=0), LIKE_KIND, "room_id 0 <= 0"),
    (like_bytes(ts=NOW + 2 * 3_600_000), LIKE_KIND, "more than 1 hour ahead"),
    (like_bytes()[:-1], LIKE_KIND, "corrupt"),
    (b"\x00\x01" + like_bytes()[2:], LIKE_KIND, "not single-object Avro"),
    (b"", LIKE_KIND, "too short"),
    (None, LIKE_KIND, "too short"),
])
def test_read_event(value, topic_kind, expected):
    got = read_event(REG, value, "t", topic_kind, NOW)
    if isinstance(expected, str):
        assert isinstance(got, Invalid) and expected in got.reason
    else:
        assert got == expected
