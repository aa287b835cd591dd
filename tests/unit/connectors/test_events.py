"""The event contract: what makes an event valid, and the reason given when it is not."""

from __future__ import annotations

import pytest

from connectors.events import MIN_TS_MS, Event, Invalid, validate

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
