"""The suite's two drain regimes and their targets (no services: figures made up here)."""

from __future__ import annotations

from tools.bench import suite
from tools.bench.report import BenchResult, Measurement


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
    # the latency-through-a-failure run: >= 3 minutes, not in the quick run
    assert full.failure_s >= 180 and quick.failure_s == 0


def test_the_live_platform_target_is_judged_on_an_exact_drain_only():
    s = _suite()
    s.platform_drain = Measurement("0 live-platform drain", "live-counters job", 1_000_000,
                                   8.0, True)
    s.targets()
    (t,) = [t for t in s.r.targets if t.name == "live-platform drain"]
    assert t.met and t.value == "125,000 events/s" and t.goal == ">= 60,000 events/s"

    s = _suite()
    s.platform_drain = Measurement("0 live-platform drain", "live-counters job", 1_000_000,
                                   8.0, False)
    s.targets()
    (t,) = [t for t in s.r.targets if t.name == "live-platform drain"]
    assert not t.met and t.value == "0 events/s"


def _ceilings(s: suite.Suite) -> None:
    s.r.measurements += [
        Measurement("2 ceiling", "Flink Kafka source -> blackhole", 300_000, 1.5, None),
        Measurement("2 ceiling", "Cassandra counter rows (sink's batches)", 50_000, 5.0, None)]


def test_the_job_without_its_sink_is_judged_against_100000_events_per_s():
    s = _suite()
    _platform_stages(s)                             # without its sink: 25,000 events/s
    s.targets()
    (t,) = [t for t in s.r.targets if "without its sink" in t.name]
    assert not t.met and t.value == "25,000 events/s" and t.goal == ">= 100,000 events/s"


def test_keeping_up_live_is_judged_at_20000_and_40000_events_per_s():
    from tools.bench.report import LatencyPoint

    s = _suite()
    s.r.latency = [LatencyPoint(20_000, 19_990.0, 900, 400.0, 700.0, 900.0, True, 0, {},
                                True, 30_000.0),
                   LatencyPoint(40_000, 39_000.0, 900, 9_000.0, 20_000.0, 25_000.0, True, 0,
                                {}, False, 900_000.0)]
    s.targets()
    ups = {t.name: t for t in s.r.targets if t.name.startswith("keeps up")}
    assert ups["keeps up with 20,000 events/s live"].met
    assert not ups["keeps up with 40,000 events/s live"].met
    assert "largest lag 900,000 records" in ups["keeps up with 40,000 events/s live"].value


def test_keeping_up_means_the_offered_rate_and_a_lag_that_does_not_grow():
    from tools.bench.latency import keeps_up

    assert keeps_up(20_000, 19_990, [5_000, 90_000, 40_000, 30_000, 60_000, 20_000])
    assert keeps_up(20_000, 19_990, [200_000, 250_000, 260_000])  # behind, not growing
    assert not keeps_up(20_000, 19_990, [5_000, 200_000, 400_000, 700_000])  # growing
    assert not keeps_up(20_000, 19_000, [5_000, 5_000, 5_000])  # the producer fell short
    assert not keeps_up(20_000, 19_990, [5_000])  # too few samples to tell


def test_the_long_tail_is_judged_in_counter_rows_against_cassandras_ceiling():
    s = _suite()
    _ceilings(s)                                    # Cassandra takes 10,000 rows/s
    s.drain = Measurement("1 backlog drain", "live-counters job", 300_000, 20.0, True,
                          {"rows written": 140_000})   # 7,000 rows/s
    s.targets()
    (t,) = [t for t in s.r.targets if "Cassandra's ceiling" in t.name]
    assert t.met and t.value == "0.70x (7,000 of 10,000 rows/s)"
    s.drain.extra["rows written"] = 100_000          # 5,000 rows/s
    s.r.targets = []
    s.targets()
    (t,) = [t for t in s.r.targets if "Cassandra's ceiling" in t.name]
    assert not t.met and t.value.startswith("0.50x")


def test_what_bounds_the_drain_is_read_from_the_measured_tasks():
    r = BenchResult(mode="full", command="scripts/bench", started="now", duration_s=0.0,
                    machine={}, versions={})
    r.measurements = [
        Measurement("2 ceiling", "Cassandra counter rows (sink's batches)", 50_000, 2.0, None),
        Measurement("1 backlog drain", "live-counters job", 300_000, 30.0, True,
                    {"rows written": 240_000, "rows read": 144_000, "counter rows": 144_000})]
    r.stages = {"1 backlog drain: live-counters job": [["cassandra-counters", 838.0, 0.0, 1190.0],
                                                       ["Source -> decode", 290.0, 764.0, 2972.0]]}
    r.notes = ["What bounds the drain: an older render's text"]
    suite.add_analysis(r)
    suite.add_analysis(r)                            # idempotent
    (note,) = [n for n in r.notes if n.startswith("What bounds the drain")]
    assert "8,000 row writes/s" in note and "0.32x of the 25,000 row writes/s" in note
    assert "The busiest task sets the pace: cassandra-counters (busy 838 ms/s" in note
    r.stages = {}
    suite.add_analysis(r)
    (note,) = [n for n in r.notes if n.startswith("What bounds the drain")]
    assert "No task is busy most of the time" in note


def _platform_stages(s: suite.Suite) -> None:
    s.r.measurements += [
        Measurement("0 stage", suite.PLATFORM_SOURCE, 1_000_000, 0.5, None),   # 2,000,000/s
        Measurement("0 stage", suite.PLATFORM_DECODE, 1_000_000, 10.0, None),  # 100,000/s
        Measurement("0 stage", suite.PLATFORM_TRUTHS, 1_000_000, 40.0, None)]  # 25,000/s


def test_what_bounds_the_live_platform_is_read_from_its_stages():
    r = BenchResult(mode="full", command="scripts/bench", started="now", duration_s=0.0,
                    machine={}, versions={})
    s = suite.Suite(suite.Sizes.quick(), 2, suite.SCENARIOS, lambda _: None, r)
    _platform_stages(s)
    r.measurements.append(Measurement("0 live-platform drain", "live-counters job",
                                      1_000_000, 50.0, True))  # 20,000 events/s: 50 µs
    r.notes = ["What bounds the live platform: an older render's text"]
    suite.add_analysis(r)
    suite.add_analysis(r)                            # idempotent
    (note,) = [n for n in r.notes if n.startswith("What bounds the live platform")]
    assert "spends 50.0 µs" in note
    assert ("reading 0.5, the decode 9.5, dedup and aggregation 30.0, the sink 10.0" in note)
    assert "the job reaches 25,000 events/s, 1.25x the whole job" in note
    assert "Python" not in note  # no Python decoder measured
    r.measurements.insert(0, Measurement("0 stage", suite.PLATFORM_DECODE_PY, 1_000_000, 20.0,
                                         None))  # 50,000 events/s: 19.5 µs of decode
    suite.add_analysis(r)
    (note,) = [n for n in r.notes if n.startswith("What bounds the live platform")]
    assert "The same decode in Python takes 19.5 µs (vectorized)" in note
    assert "the JVM decoder is 2.1x the best of them" in note
    r.measurements[-1] = Measurement("0 live-platform drain", "live-counters job",
                                     1_000_000, 50.0, False)   # not exact: no note
    suite.add_analysis(r)
    assert not [n for n in r.notes if n.startswith("What bounds the live platform")]
