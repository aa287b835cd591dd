"""The engine settings the job sets (``jobs/counters/engine.py``). The aggregation's
mini-batches end by the clock (``--flush-ms``), not by their record count, at any rate the job
reaches: a count-triggered flush under a backlog makes every changed row a truth for the sink
several times a second. The Python bundles end by time or by a count small enough that what
the JVM has handed a Python worker fits its direct memory under a backlog."""

from __future__ import annotations

import pytest

from jobs.counters.engine import (
    BUNDLE_MAX_ELEMENTS,
    MINI_BATCH_MAX_RECORDS,
    configure_tables,
    python_bundles,
)
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


@pytest.mark.parametrize("bundle_ms", [200, 10_000])
def test_bundles_end_by_time_or_by_a_bounded_count(bundle_ms):
    conf = python_bundles(bundle_ms).to_dict()
    assert conf["python.fn-execution.bundle.time"] == str(bundle_ms)
    assert conf["python.fn-execution.bundle.size"] == str(BUNDLE_MAX_ELEMENTS)


def test_the_count_bounds_the_records_in_flight_to_a_python_worker():
    # A million records in flight per decode subtask failed a 10M-event backlog with
    # "OutOfMemoryError: Direct buffer memory"; 100,000 drained it with no restart. A Kafka
    # record reaches Python as ~110 bytes of Arrow columns (51-byte value, key, topic,
    # timestamp, partition, offset): keep a subtask's share well under 32 MiB.
    assert 1_000 <= BUNDLE_MAX_ELEMENTS <= 100_000
    assert BUNDLE_MAX_ELEMENTS * 110 < 32 * 2**20
