"""The sink's arithmetic, as tables (``jobs/counters/sink/plan.py``)."""

from __future__ import annotations

import pytest

from connectors.counter_rows import TOTALS, Write
from jobs.counters.sink.plan import behind, plan_write

pytestmark = pytest.mark.unit

R = (TOTALS, 1, 0)


@pytest.mark.parametrize(("truth", "applied", "expected"), [
    ((10, 2, 500), (0, 0, 0), Write(R, (10, 2, 500))),   # first write
    ((10, 2, 500), (7, 2, 100), Write(R, (3, 0, 400))),  # the part not yet applied
    ((10, 2, 500), (10, 2, 500), None),                  # nothing to do
    ((10, 2, 500), (12, 2, 500), None),                  # Cassandra ahead: replay catching up
    ((10, 2, 500), (9, 3, 400), None),                   # ahead in one column: wait
])
def test_plan_write(truth, applied, expected):
    assert plan_write(R, truth, applied) == expected


def test_behind():
    assert behind((1, 1), (1, 2)) and not behind((1, 2), (1, 2)) and not behind((2, 2), (1, 2))


def test_replay_after_a_crash_converges_to_the_truth():
    """Cassandra got writes the restored state does not know about; the next write after
    reading the row brings it to the truth, never beyond."""
    events = [3, 4, 5, 6]
    truth_at_checkpoint = sum(events[:1])
    cassandra = sum(events[:3])               # written after the checkpoint, then a crash
    truth = truth_at_checkpoint
    for e in events[1:]:                      # the replay folds the same events again
        truth += e
        w = plan_write(R, (truth, 0, 0), (cassandra, 0, 0))
        if w:
            cassandra += w.increment[0]
        assert cassandra <= sum(events)
    assert cassandra == sum(events)
