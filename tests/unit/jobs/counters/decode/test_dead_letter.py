"""Lateness, as tables (``jobs/counters/decode/dead_letter.py``)."""

from __future__ import annotations

import pytest

from jobs.counters.decode.dead_letter import Lateness

pytestmark = pytest.mark.unit


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
