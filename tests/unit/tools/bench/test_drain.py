"""The drain's per-stage profile (no services: samples made up here)."""

from __future__ import annotations

from tools.bench.drain import DrainResult
from tools.bench.jobrun import OperatorLoad
from tools.bench.load import Shape


def test_stages_average_each_chain_over_the_samples_busiest_first():
    d = DrainResult(Shape(1_000, 10, "zipf"), 2)
    d.load = [
        [OperatorLoad("source -> decode", 600, 300, 10_000),
         OperatorLoad("dedup", 800, 0, 9_000)],
        [OperatorLoad("source -> decode", 400, 100, 14_000),
         OperatorLoad("dedup", 1000, 0, 13_000)],
    ]
    assert d.stages() == [("dedup", 900, 0, 11_000), ("source -> decode", 500, 200, 12_000)]
    assert d.bottleneck() == ("dedup: busy 900 ms/s, backpressured 0 ms/s, 11,000 records/s; "
                              "source -> decode: busy 500 ms/s, backpressured 200 ms/s, "
                              "12,000 records/s")


def test_a_drain_without_samples_says_so():
    d = DrainResult(Shape(1_000, 10, "zipf"), 2)
    assert d.stages() == [] and d.bottleneck() == "no samples"
