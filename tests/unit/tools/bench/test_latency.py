"""Produce-to-visible latencies from the probe rooms' counters."""

from __future__ import annotations

import pytest

from tools.bench.latency import (
    BUDGET_STAGES,
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


def test_latency_budget_gives_each_stage_its_ages_and_its_own_wait():
    gauges = {"decoded_age_ms": [10.0, 20.0, 30.0], "aggregated_age_ms": [400.0, 600.0],
              "sink_arrival_age_ms": [700.0], "persistence_delay_ms": [900.0, 1100.0],
              "sink_last_round_ms": [40.0, 60.0, 500.0], "sink_last_drain_ms": [0.0, 80.0]}
    b = latency_budget(50, 500, gauges, [1.2, 1.4, 1.6])
    stages = [stage for _, stage in BUDGET_STAGES]
    assert [b[f"{s}|median"] for s in stages] == pytest.approx([20, 500, 700, 1000, 1400])
    assert [b[f"{s}|wait"] for s in stages] == pytest.approx([20, 480, 200, 300, 400])
    assert b[f"{stages[0]}|p95"] == pytest.approx(29.0)
    assert b["the sink's write round|median"] == 60.0
    assert b["exactly-once's wait: the sink's round before a barrier|median"] == 40.0
    assert b["at most (a setting): the aggregation's mini-batch flush|wait"] == 500.0
    assert b["at most (a setting): the sink's Python bundle|wait"] == 50.0


def test_latency_budget_without_measurements_says_so():
    b = latency_budget(50, 500, {"persistence_delay_ms": [900.0]}, [])
    stages = [stage for _, stage in BUDGET_STAGES]
    assert b[f"{stages[0]}|median"] is None and b[f"{stages[1]}|wait"] is None
    assert b[f"{stages[3]}|median"] == 900.0 and b[f"{stages[3]}|wait"] is None  # no stage 3
    assert b[f"{stages[4]}|median"] is None and b["the sink's write round|p95"] is None
    assert b["at most (a setting): the sink's Python bundle|wait"] == 50.0


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
