"""The fault harness's pure parts: recovery times, the verdict, the table."""

from __future__ import annotations

import pytest

from tools.faults.report import (
    Fault,
    RunResult,
    freeze_times,
    markdown_table,
    recovery_times,
    replace_between,
)

pytestmark = pytest.mark.unit


def test_recovery_is_first_growth_after_heal_plus_grace():
    samples = [(0.0, 10), (1.0, 20), (2.0, 22), (3.0, 22), (4.0, 22), (5.0, 22), (6.0, 30)]
    # fault at 1.5, healed at 2.0: the landing at 2.0 (in flight) does not count
    assert recovery_times([Fault("kill", 1.5, 2.0)], samples) == [4.5]


def test_recovery_never_seen_is_none():
    samples = [(0.0, 10), (1.0, 10), (5.0, 10)]
    assert recovery_times([Fault("kill", 0.5, 0.5)], samples) == [None]


def test_gap_in_samples_while_cassandra_is_down():
    samples = [(0.0, 5), (1.0, 6), (30.0, 6), (31.0, 9)]
    assert recovery_times([Fault("pause", 1.2, 20.0)], samples) == [pytest.approx(29.8)]


def test_after_a_gap_across_the_heal_the_first_sample_read_again_is_the_base():
    # Cassandra killed at 1.2 and restarted at once: nothing can be read until 22.0, and that
    # first read shows writes that landed just before the kill; the job counts again at 31.0
    samples = [(0.0, 5), (1.0, 6), (22.0, 9), (26.0, 9), (31.0, 12)]
    assert recovery_times([Fault("kill -9 cassandra", 1.2, 1.2)], samples) == \
        [pytest.approx(29.8)]
    # read every 0.5 s across the heal: the sample before it stays the base
    steady = [(0.0, 5), (0.5, 6), (1.0, 6), (1.5, 6), (2.0, 6), (2.5, 8)]
    assert recovery_times([Fault("kill", 0.2, 0.2)], steady) == [pytest.approx(2.3)]


def test_freeze_runs_from_the_last_rise_before_the_fault_to_the_first_after():
    samples = [(0.0, 10), (1.0, 20), (2.0, 20), (3.0, 20), (4.0, 20), (5.0, 20), (6.0, 30)]
    faults = [Fault("kill", 1.5, 2.0)]
    recoveries = recovery_times(faults, samples)
    # counts last rose at 1.0 and next at 6.0: no number moved for 5 s
    assert freeze_times(faults, samples, recoveries) == [pytest.approx(5.0)]
    assert freeze_times(faults, samples, [None]) == [None]
    assert freeze_times([Fault("kill", 0.5, 0.6)], samples, [5.5]) == [None]  # no rise before


def result(**kw) -> RunResult:
    base = dict(scenario="1-taskmanager", seed=1, messages=100, counted_sent=90,
                duplicates_sent=5, invalid_sent=5, dlq_letters=5, rooms_checked=10)
    return RunResult(**(base | kw))


def test_exact_needs_every_count_right():
    assert result().exact
    assert not result(events_lost=1).exact
    assert not result(events_double_counted=1).exact
    assert not result(rows_wrong=1).exact
    assert not result(dlq_letters=4, dlq_missing=1).exact
    assert not result(dlq_letters=6, dlq_extra=1).exact
    assert not result(error="harness failed").exact
    assert not result(max_restarts=0, restarts=1).exact
    assert result(max_restarts=0, restarts=0).exact
    assert not result(workers_left=["4242"]).exact  # a worker of a killed TaskManager lives


def test_table_row_and_markers():
    r = result(faults=[Fault("kill", 0, 1, 3.0, 4.0), Fault("kill", 5, 6, 5.0, 7.0)],
               restarts=2)
    table = markdown_table([r])
    assert "| 1-taskmanager | 1 | 100 | 5 | 5 | 2 | 10 | 0 | 0 | 0 | 5 / 5 | 2 (+0) " \
           "| 4.0 / 5.0 | 5.5 / 7.0 | 0 |" in table
    doc = "# R\n<!-- a -->\nold\n<!-- b -->\ntail\n"
    assert replace_between(doc, "<!-- a -->", "<!-- b -->", "new") == \
        "# R\n<!-- a -->\nnew\n<!-- b -->\ntail\n"


def test_thin_keeps_one_sample_per_interval_relative_to_start():
    from tools.faults.monitor import thin

    samples = [(100.0 + i * 0.5, i) for i in range(10)]
    assert thin(samples, 100.0, every_s=2.0) == [(0.0, 0), (2.0, 4), (4.0, 8)]


def test_counted_while_down_is_the_growth_between_injection_and_heal():
    from tools.faults.report import counted_between

    samples = [(0.0, 0), (1.0, 10), (2.0, 10), (3.0, 25), (4.0, 40), (5.0, 40)]
    assert counted_between(samples, 1.5, 3.5) == 15    # 10 before, 25 at 3.0
    assert counted_between(samples, 1.0, 2.0) == 0     # did not move
    assert counted_between(samples, -1.0, 2.0) is None  # nothing seen before the fault
    assert counted_between(samples, 5.5, 9.0) is None   # nothing seen after it


def test_a_taskmanager_that_exited_on_its_own_is_reported():
    """The harness restarts it (as a supervisor would); the table and summary say so."""
    r = result(restarts=1, taskmanager_exits=["taskmanager at 80 s"])
    assert "| 1 (+0), 1 TaskManager exit(s) on its own |" in markdown_table([r])
    assert "TaskManager exits on their own: taskmanager at 80 s" in r.summary()
    assert "exit(s)" not in markdown_table([result()])


def test_the_write_goes_to_docs_reliability_md_which_holds_every_table_marker():
    from local_stack.paths import REPO_ROOT
    from tools.faults.__main__ import DOC, MARKERS

    assert DOC == REPO_ROOT / "docs" / "reliability.md"
    text = DOC.read_text()
    for begin, end in MARKERS.values():
        assert text.index(begin) < text.index(end)
