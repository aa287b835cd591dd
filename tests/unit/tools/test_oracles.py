"""The oracles count in the job's windows. The workload generator, the benchmark's backlog
truth, the kafka-python peer and the fault harness take the window size from the job's
settings (``--window-ms``), so a job told another window is still checked against its own
rows; and they agree with each other on every row."""

from __future__ import annotations

import pytest

from jobs.counters.settings import Settings
from tests.unit.tools.bench.test_peer import events_of, merge_all, snapshot_of
from tools.bench.drain import for_job
from tools.bench.load import Shape, Truth, chunks
from tools.bench.peer import Aggregate
from tools.bench.quix_peer import parse as quix_args
from tools.faults.harness import workload_for
from tools.verify import compare
from tools.workload import generate

pytestmark = pytest.mark.unit

NOW = 1_763_700_000_000
JOB_WINDOW = Settings().window_ms


def test_every_oracle_defaults_to_the_jobs_window():
    assert Shape(10).window_ms == JOB_WINDOW
    assert quix_args(["--bootstrap", "b", "--likes-topic", "l", "--gifts-topic", "g",
                      "--cassandra-hosts", "h", "--keyspace", "k", "--total-messages", "1",
                      "--group-id", "q", "--state-dir", "/tmp/q"]
                     ).window_ms == JOB_WINDOW
    default = generate(1, 500, 20, NOW).expected
    assert default.windows == generate(1, 500, 20, NOW, window_ms=JOB_WINDOW).expected.windows


@pytest.mark.parametrize("window_ms", [1_000, JOB_WINDOW, 3_600_000])
def test_the_workload_and_the_peer_count_in_the_window_the_job_is_given(window_ms):
    s = Settings.parse(["--window-ms", str(window_ms)])
    wl = generate(3, 2_000, 30, NOW, window_ms=s.window_ms)
    starts = {start for _, start in wl.expected.windows}
    assert all(start % window_ms == 0 for start in starts)
    if window_ms < 60_000:  # events within 5 s of now: not all in one minute's start
        assert any(start % 60_000 for start in starts)
    agg = Aggregate(s.window_ms)
    for event in events_of(wl):
        if not hasattr(event, "reason"):
            agg.add(event)
    report = compare(wl.expected, snapshot_of(merge_all([agg.drain()])))
    assert report.exact, report.rows_wrong[:5]


def test_a_backlog_takes_the_window_of_the_job_that_counts_it():
    s = Settings.parse(["--window-ms", "1000"])
    shape = for_job(Shape(3_000, rooms=50, seed=4), s)
    assert shape.window_ms == 1000
    truth = Truth()
    for _ in chunks(shape, NOW, truth):
        pass
    starts = {start for _, start in truth.expected().windows}
    assert all(start % 1000 == 0 for start in starts) and any(start % 60_000 for start in starts)


def test_the_fault_harness_expects_the_rows_of_the_jobs_window():
    s = Settings.parse(["--window-ms", "1000"])
    starts = {start for _, start in workload_for(s, 5, 1_000, 20).expected.windows}
    assert all(start % 1000 == 0 for start in starts) and any(start % 60_000 for start in starts)
