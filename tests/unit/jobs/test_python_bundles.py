"""The job's Python bundles: they end by time (``--bundle-ms``) or by a count small enough
that what the JVM has handed a Python worker fits its direct memory under a backlog."""

from __future__ import annotations

import pytest

from jobs.counters.main import BUNDLE_MAX_ELEMENTS, python_bundles

pytestmark = pytest.mark.unit


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
