"""A job without restored state must not start where an earlier run has counted."""

from __future__ import annotations

from jobs.counters.settings import Settings
from jobs.counters.start_guard import counted_without_state, restore_source

S = Settings.parse([])
COMMITTED = {("live.likes", 0): 120, ("live.gifts", 3): 7}


def test_refused_without_state_over_counts_and_committed_offsets():
    why = counted_without_state(S, False, COMMITTED, True)
    assert why is not None
    for said in ("keyspace live_counters holds counts", "consumer group live-counters",
                 "live.gifts, live.likes", "flink run -s PATH", "--from-savepoint PATH",
                 "--keyspace, --group-id"):
        assert said in why


def test_starts_when_restoring_or_nothing_was_counted_or_nothing_committed():
    assert counted_without_state(S, True, COMMITTED, True) is None    # resumed: truths go on
    assert counted_without_state(S, False, COMMITTED, False) is None  # empty keyspace
    # no committed offsets: the job reads the topics from the start and rebuilds every truth
    assert counted_without_state(S, False, {}, True) is None


def test_refused_from_the_end_of_the_topics_over_counts():
    latest = Settings.parse(["--startup", "latest"])
    assert "--startup latest" in counted_without_state(latest, False, {}, True)
    assert counted_without_state(latest, False, {}, False) is None


def test_where_state_may_come_from():
    assert restore_source({}) is None
    assert restore_source({"high-availability.type": "NONE"}) is None
    assert restore_source({"execution.state-recovery.path": "s3://b/sp-1"}) == "s3://b/sp-1"
    assert restore_source({"execution.savepoint.path": "file:///sp"}) == "file:///sp"
    # a JobManager that comes back under high availability runs the driver again, without -s
    assert "high-availability store (kubernetes)" in restore_source(
        {"high-availability.type": "kubernetes"})
