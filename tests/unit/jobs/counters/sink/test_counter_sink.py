"""The sink's PyFlink function without services: where it waits for its writes, and its
gauges (``jobs/counters/sink/counter_sink.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from pyflink.common import Row
from pyflink.common.types import RowKind

from connectors.counter_rows import TOTALS
from jobs.counters.settings import Settings
from jobs.counters.sink.counter_sink import SINK_METRICS, CounterSink
from local_stack.paths import REPO_ROOT

pytestmark = pytest.mark.unit


class _FakeBackground:
    def __init__(self):
        self.offered, self.drains, self.idle = [], 0, False
        self.unconfirmed_since_ms = 0  # as BackgroundWriter: nothing written is confirmed

    def offer(self, truths, ts, since_ms=None):
        self.offered.append(dict(truths))
        if not self.unconfirmed_since_ms:
            self.unconfirmed_since_ms = since_ms

    def drain(self):
        self.drains += 1


def _sink_without_services():
    """A CounterSink whose Cassandra side (opened in ``open``) is replaced by fakes."""

    class Lease:
        def check(self):
            pass

    class Counter:
        def inc(self, n):
            pass

    sink = CounterSink(Settings.parse([]), "test")
    sink.background, sink.lease, sink.m_late = _FakeBackground(), Lease(), Counter()
    sink.totals = dict.fromkeys(SINK_METRICS, 0)
    sink.late_seen, sink._truths, sink._truths_ts, sink._truths_since = {}, {}, 0, 0
    sink._newest_ts = 0
    sink._barrier_due, sink._bundle_thread = False, threading.get_ident()
    return sink


def _row(values, kind=None):
    row = Row(*values)
    row.set_row_kind(kind or RowKind.INSERT)
    return row


def test_the_sink_waits_for_its_writes_only_at_the_bundle_end_after_a_barrier_marker():
    sink = _sink_without_services()
    truth = (7, -1, "", -1, 5, 0, 0, 5, 0, 0, 99)
    sink.process_element(_row(truth, RowKind.UPDATE_AFTER), None)
    sink._bundle_end()
    assert sink.background.offered == [{(TOTALS, 7, 0): (5, 0, 0, 5, 0)}]
    assert sink.background.drains == 0  # a bundle end without a barrier behind it
    # the marker of graph.held: a DELETE row of -1 and ''
    marker = (-1, -1, "", -1, -1, -1, -1, -1, -1, -1, -1)
    sink.process_element(_row(marker, RowKind.DELETE), None)
    sink.process_element(_row((7, -1, "", -1, 6, 0, 0, 6, 0, 0, 99)), None)
    sink._bundle_end()
    assert sink.background.drains == 1 and sink.totals["sink_barrier_drains"] == 1
    assert sink.background.offered[-1] == {(TOTALS, 7, 0): (6, 0, 0, 6, 0)}
    assert all(row[1] != -1 for batch in sink.background.offered for row in batch)
    sink._bundle_end()
    assert sink.background.drains == 1  # once per marker


def test_a_truth_is_unconfirmed_from_its_arrival_at_the_sink_not_from_its_hand_off():
    sink = _sink_without_services()
    assert sink._unconfirmed_since_ms() == 0
    before = int(time.time() * 1000)
    sink.process_element(_row((7, -1, "", -1, 5, 0, 0, 5, 0, 0, 99), RowKind.UPDATE_AFTER),
                         None)
    arrived = sink._unconfirmed_since_ms()
    assert before <= arrived <= int(time.time() * 1000)  # collected, not handed off yet
    sink.process_element(_row((8, -1, "", -1, 1, 0, 0, 1, 0, 0, 99)), None)
    sink._bundle_end()
    assert sink.background.unconfirmed_since_ms == arrived  # the first truth's arrival
    assert sink._unconfirmed_since_ms() == arrived and not sink._truths


def test_the_sink_reports_how_old_the_newest_event_was_when_its_truth_arrived():
    sink = _sink_without_services()
    now = int(time.time() * 1000)
    sink.process_element(_row((7, -1, "", -1, 5, 0, 0, 5, 0, 0, now - 300),
                              RowKind.UPDATE_AFTER), None)
    age = sink.totals["sink_arrival_age_ms"]
    assert 300 <= age <= int(time.time() * 1000) - now + 300
    # an older event's truth (a late event, another row) leaves the age of the newest
    sink.process_element(_row((8, -1, "", -1, 1, 0, 0, 1, 0, 0, now - 60_000)), None)
    assert sink.totals["sink_arrival_age_ms"] == age


def test_a_python_worker_can_import_the_sink():
    """A Python worker imports the sink's module to unpickle it, without a Java gateway: a
    module-level PyFlink object that needs one (a Schema) fails every sink task."""
    res = subprocess.run([sys.executable, "-c", "import jobs.counters.sink.counter_sink"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYFLINK_GATEWAY_DISABLED": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
