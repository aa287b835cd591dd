"""The aggregation's mini-batches end by the clock (``--flush-ms``), not by their record
count, at any rate the job reaches: a count-triggered flush under a backlog makes every
changed row a truth for the sink several times a second, whatever ``--flush-ms`` says."""

from __future__ import annotations

import pytest

from jobs.counters.pipeline import MINI_BATCH_MAX_RECORDS, configure_tables
from jobs.counters.settings import Settings

pytestmark = pytest.mark.unit

GROUPING_SETS = 3  # rows a valid event becomes before the local aggregation (TRUTH_SQL)


class _Config:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


class _TableEnv:
    def __init__(self) -> None:
        self.config = _Config()

    def get_config(self) -> _Config:
        return self.config


def test_a_flush_is_due_to_the_clock_up_to_100k_events_per_subtask():
    t_env = _TableEnv()
    s = Settings.parse([])
    flush_ms = s.flush_ms
    configure_tables(t_env, s)
    conf = t_env.config.values
    assert conf["table.exec.mini-batch.enabled"] == "true"
    assert conf["table.exec.mini-batch.allow-latency"] == f"{flush_ms} ms"
    size = int(conf["table.exec.mini-batch.size"])
    assert size == MINI_BATCH_MAX_RECORDS
    records_per_flush = 100_000 * GROUPING_SETS * flush_ms / 1000
    assert size >= records_per_flush
