"""The counter-row model: the window an event counts in and the day partition of a window."""

from __future__ import annotations

import pytest

from connectors.counter_rows import day_of, window_start

pytestmark = pytest.mark.unit

NOW = 1_763_700_000_000  # a minute's start


@pytest.mark.parametrize(("ts", "size", "start"), [
    (0, 1000, 0), (999, 1000, 0), (1000, 1000, 1000), (NOW + 59_999, 60_000, NOW),
    (NOW + 60_000, 60_000, NOW + 60_000),
])
def test_window_start(ts, size, start):
    assert window_start(ts, size) == start


def test_day_of():
    assert day_of(0) == 0 and day_of(86_399_999) == 0 and day_of(86_400_000) == 1

