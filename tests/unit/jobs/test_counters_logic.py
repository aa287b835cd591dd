"""The counting job's pure logic, as tables."""

from __future__ import annotations

import pytest

from connectors.counter_rows import TOTALS, Write, day_of, window_start
from connectors.events import MIN_TS_MS, Event, Invalid, validate
from jobs.counters.logic import Lateness, behind, plan_write

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


@pytest.mark.parametrize(("ts", "size", "start"), [
    (0, 1000, 0), (999, 1000, 0), (1000, 1000, 1000), (NOW + 59_999, 60_000, NOW),
    (NOW + 60_000, 60_000, NOW + 60_000),
])
def test_window_start(ts, size, start):
    assert window_start(ts, size) == start


def test_day_of():
    assert day_of(0) == 0 and day_of(86_399_999) == 0 and day_of(86_400_000) == 1


R = (TOTALS, 1, 0)


@pytest.mark.parametrize(("truth", "applied", "expected"), [
    ((10, 2, 500), (0, 0, 0), Write(R, (10, 2, 500))),   # first write
    ((10, 2, 500), (7, 2, 100), Write(R, (3, 0, 400))),  # the part not yet applied
    ((10, 2, 500), (10, 2, 500), None),                  # nothing to do
    ((10, 2, 500), (12, 2, 500), None),                  # Cassandra ahead: replay catching up
    ((10, 2, 500), (9, 3, 400), None),                   # ahead in one column: wait
])
def test_plan_write(truth, applied, expected):
    assert plan_write(R, truth, applied) == expected


def test_behind():
    assert behind((1, 1), (1, 2)) and not behind((1, 2), (1, 2)) and not behind((2, 2), (1, 2))


def test_replay_after_a_crash_converges_to_the_truth():
    """Cassandra got writes the restored state does not know about; the next write after
    reading the row brings it to the truth, never beyond."""
    events = [3, 4, 5, 6]
    truth_at_checkpoint = sum(events[:1])
    cassandra = sum(events[:3])               # written after the checkpoint, then a crash
    truth = truth_at_checkpoint
    for e in events[1:]:                      # the replay folds the same events again
        truth += e
        w = plan_write(R, (truth, 0, 0), (cassandra, 0, 0))
        if w:
            cassandra += w.increment[0]
        assert cassandra <= sum(events)
    assert cassandra == sum(events)


def test_lateness_is_behind_the_newest_event_by_more_than_the_delay():
    lt = Lateness(5_000)
    assert not lt.late(100_000)           # the first event sets the clock
    assert not lt.late(95_000)            # exactly the delay behind: in time
    assert lt.late(94_999)
    assert not lt.late(200_000)           # a newer event moves the clock
    assert lt.late(100_000) and not lt.late(196_000)
    assert lt.newest == 200_000           # late and older events never move it back


def test_lateness_starts_over_with_nothing_seen():
    lt = Lateness(5_000)
    assert not lt.late(0) and lt.late(-5_001)
