"""The counter-row model: the rows an event counts in, its window and the day partition."""

from __future__ import annotations

import pytest

from connectors.counter_rows import GIFTS, TOTALS, WINDOWS, day_of, rows_of, window_start
from connectors.events import GIFT, LIKE, Event

pytestmark = pytest.mark.unit

NOW = 1_763_700_000_000  # a minute's start
MIN = 60_000
W0 = window_start(NOW, MIN)


def like(eid: str, room: int = 5, count: int = 3, ts: int = NOW) -> Event:
    return Event(LIKE, eid, room, 1, 0, count, 0, 0, ts)


def gift(eid: str, room: int = 5, gift_id: int = 7, qty: int = 2, unit: int = 100,
         ts: int = NOW) -> Event:
    return Event(GIFT, eid, room, 1, gift_id, 0, qty, qty * unit, ts)


@pytest.mark.parametrize(("ts", "size", "start"), [
    (0, 1000, 0), (999, 1000, 0), (1000, 1000, 1000), (NOW + 59_999, 60_000, NOW),
    (NOW + 60_000, 60_000, NOW + 60_000),
])
def test_window_start(ts, size, start):
    assert window_start(ts, size) == start


def test_day_of():
    assert day_of(0) == 0 and day_of(86_399_999) == 0 and day_of(86_400_000) == 1


@pytest.mark.parametrize(("event", "rows"), [
    (like("a"), [((TOTALS, 5, 0), (3, 0, 0, 1, 0)), ((WINDOWS, 5, W0), (3, 0, 0))]),
    (gift("b"), [((TOTALS, 5, 0), (0, 2, 200, 1, 0)), ((WINDOWS, 5, W0), (0, 2, 200)),
                 ((GIFTS, 5, 7), (2, 200))]),
    (like("c", ts=W0 - 1), [((TOTALS, 5, 0), (3, 0, 0, 1, 0)),
                            ((WINDOWS, 5, W0 - MIN), (3, 0, 0))]),
    (gift("d", unit=0), [((TOTALS, 5, 0), (0, 2, 0, 1, 0)), ((WINDOWS, 5, W0), (0, 2, 0)),
                         ((GIFTS, 5, 7), (2, 0))]),
])
def test_rows_of(event, rows):
    assert rows_of(event, MIN) == rows
