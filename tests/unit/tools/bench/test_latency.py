"""Produce-to-visible latencies from the probe rooms' counters."""

from __future__ import annotations

import pytest

from tools.bench.latency import (
    latency_budget,
    longest_freeze,
    percentiles,
    settle_time,
    visible_latencies,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("before,now_seen,expected", [
    (0, 1, [9.0]),            # the first event became visible at 10
    (1, 3, [8.0, 7.0]),       # events 2 and 3 at once
    (3, 3, []),               # nothing new
    (2, 9, [7.0, 6.0]),       # a counter ahead of what was sent (cannot be): only those sent
])
def test_visible_latencies(before, now_seen, expected):
    sent_at = [1.0, 2.0, 3.0, 4.0]
    assert visible_latencies(sent_at, before, now_seen, 10.0) == expected


def test_percentiles_in_ms():
    p = percentiles([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert p["p50_ms"] == pytest.approx(50.5)
    assert p["p99_ms"] == pytest.approx(99.01)
    assert percentiles([]) == {"p50_ms": None, "p95_ms": None, "p99_ms": None}


def test_latency_budget_has_the_bounds_of_the_settings_and_the_measured_medians():
    b = latency_budget(200, 1000, [40.0, 60.0, 500.0], [900.0, 1100.0], [1.2, 1.4, 1.6])
    assert b == {"decode bundle max ms": 200.0, "mini-batch flush max ms": 1000.0,
                 "sink bundle max ms": 200.0, "sink write round ms": 60.0,
                 "produce to written ms": 1000.0,
                 "produce to visible ms": pytest.approx(1400.0)}


def test_latency_budget_without_measurements_says_so():
    b = latency_budget(200, 1000, [], [], [])
    assert b["sink write round ms"] is None and b["produce to written ms"] is None
    assert b["produce to visible ms"] is None and b["decode bundle max ms"] == 200.0


def test_longest_freeze_is_the_widest_gap_between_rises_within_the_window():
    assert longest_freeze([1.0, 2.0, 3.0, 10.0, 11.0], 0.0, 12.0) == 7.0
    assert longest_freeze([], 5.0, 8.0) == 3.0        # nothing moved at all
    assert longest_freeze([1.0, 30.0], 2.0, 4.0) == 2.0  # rises outside do not count
    assert longest_freeze([1.0], 4.0, 4.0) is None


def test_settle_time_is_the_first_moment_the_next_30_s_have_p99_within_1_s():
    # events every 0.1 s: 3 s latency for the first 10 s, 0.2 s after
    timeline = [(i * 0.1, 3.0 if i < 100 else 0.2) for i in range(1_000)]
    assert settle_time(timeline, 0.0) == pytest.approx(10.0)
    assert settle_time(timeline, 20.0) == 0.0
    assert settle_time([(i * 0.1, 3.0) for i in range(1_000)], 0.0) is None  # never settled
    assert settle_time([], 0.0) is None
