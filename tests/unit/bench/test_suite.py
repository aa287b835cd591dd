"""The suite's two drain regimes and their targets (no services: figures made up here)."""

from __future__ import annotations

from jobs.bench import suite
from jobs.bench.report import BenchResult, Measurement


def _suite() -> suite.Suite:
    result = BenchResult(mode="quick", command="scripts/bench", started="now", duration_s=0.0,
                         machine={}, versions={})
    return suite.Suite(suite.Sizes.quick(), 2, suite.SCENARIOS, lambda _: None, result)


def test_both_regimes_are_sized_and_the_live_platform_comes_first():
    full, quick = suite.Sizes.full(), suite.Sizes.quick()
    assert (full.platform_events, full.platform_rooms) == (10_000_000, 10_000)
    assert (full.drain_events, full.rooms) == (300_000, 100_000)
    assert full.platform_events / full.platform_rooms > 100 * full.drain_events / full.rooms
    assert 0 < quick.platform_events < full.platform_events
    assert suite.SCENARIOS[0] == "platform"


def test_the_live_platform_target_is_judged_on_an_exact_drain_only():
    s = _suite()
    s.platform_drain = Measurement("0 live-platform drain", "live-counters job", 1_000_000,
                                   8.0, True)
    s.targets()
    (t,) = [t for t in s.r.targets if t.name == "live-platform drain"]
    assert t.met and t.value == "125,000 events/s"

    s = _suite()
    s.platform_drain = Measurement("0 live-platform drain", "live-counters job", 1_000_000,
                                   8.0, False)
    s.targets()
    (t,) = [t for t in s.r.targets if t.name == "live-platform drain"]
    assert not t.met and t.value == "0 events/s"
