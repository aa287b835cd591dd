"""The producer benchmark's traffic pattern (the run itself: tests/integration)."""

from __future__ import annotations

import itertools

import pytest

from tools.bench.producer_bench import GIFT, LIKE, TapPattern, tap_pattern

pytestmark = pytest.mark.unit


def taps(n: int, **kw) -> list[tuple]:
    return list(itertools.islice(tap_pattern(TapPattern(**kw)), n))


def test_tap_pattern_is_reproducible_by_seed():
    assert taps(5000, seed=3) == taps(5000, seed=3)
    assert taps(5000, seed=3) != taps(5000, seed=4)


def test_tap_pattern_is_mostly_repeated_likes_with_valid_gifts():
    events = taps(20_000, seed=1, rooms=500)
    likes = [ev for ev in events if ev[0] == LIKE]
    gifts = [ev for ev in events if ev[0] == GIFT]
    assert 0.77 < len(likes) / len(events) < 0.83
    assert all(1 <= ev[1] <= 500 for ev in events)
    # users tap repeatedly in their room: far fewer (room, user) pairs than likes
    assert len({ev[1:] for ev in likes}) < len(likes) / 4
    assert all(1 <= q <= 5 and v >= 0 for *_, q, v in gifts)
