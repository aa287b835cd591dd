"""The fault harness at CI size: kill -9 of the TaskManager (a burst included), Cassandra
paused past its timeouts then killed, poison input, and an upgrade from the previous version
through a savepoint while events flow. Each must end exact: no event lost,
none counted twice, the DLQ equal to the invalid messages sent. ``scripts/faults`` runs
every scenario at full size (RELIABILITY.md)."""

from __future__ import annotations

import pytest

from tools.faults.harness import Harness
from tools.faults.scenarios import CI, run_scenario

pytestmark = pytest.mark.integration

SEED = 20261121


@pytest.mark.parametrize(("key", "faults"), [
    ("1-taskmanager", CI.tm_kills + 3),
    ("4-cassandra", 2),
    ("6-poison", 0),
    ("8-upgrade", 1),
])
def test_scenario_ends_exact(key, faults, kafka_bootstrap, cassandra_hosts, flink_cluster):
    result = run_scenario(Harness(progress=lambda m: print(m, flush=True)).run, key, SEED, CI)
    print(result.summary())
    assert result.error is None, result.error
    assert len(result.faults) == faults
    assert result.rows_wrong == 0, "\n".join(result.wrong_rows[:20])
    assert (result.events_lost, result.events_double_counted) == (0, 0)
    assert (result.dlq_letters, result.dlq_missing, result.dlq_extra) == (
        result.invalid_sent, 0, 0)
    if key == "6-poison":
        assert result.restarts == 0, "poison input made the job restart"
    if key == "1-taskmanager":  # the restart count sees the kills (it read 0 once)
        assert result.restarts >= 1
    assert result.exact
