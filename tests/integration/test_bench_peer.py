"""The benchmark's kafka-python peer against real Kafka and Cassandra: its tables are exact.

(The Quix Streams peer needs its own venv, installed on first use: it is run by the
benchmark, not here.)
"""

from __future__ import annotations

import time

import pytest

from local_stack.cassandra import connect
from tools import verify
from tools.bench.peer import run_kafka_python_peer
from tools.workload import MINUTE, generate, produce

pytestmark = pytest.mark.integration


def test_kafka_python_peer_counts_a_backlog_exactly(kafka_bootstrap, cassandra_hosts,
                                                    new_topic, keyspace):
    wl = generate(20261121, events=20_000, rooms=500, now_ms=int(time.time() * 1000))
    assert wl.duplicates > 0 and wl.invalid > 0 and wl.late > 0
    likes, gifts = new_topic(partitions=4), new_topic(partitions=4)
    produce(wl, kafka_bootstrap, likes, gifts)
    seen: list[int] = []

    result = run_kafka_python_peer(kafka_bootstrap, likes, gifts, cassandra_hosts, keyspace,
                                   MINUTE, len(wl.messages), progress=seen.append,
                                   flush_every_s=0.5)

    assert (result.messages, result.counted, result.duplicates, result.invalid) == (
        len(wl.messages), wl.counted, wl.duplicates, wl.invalid)
    assert seen[-1] == len(wl.messages)
    assert result.seconds > 0 and result.rows_written >= len(wl.expected.totals)
    with connect(cassandra_hosts) as session:
        report = verify.compare(wl.expected, verify.snapshot(session, keyspace))
    assert report.exact, report.summary() + "\n" + "\n".join(report.rows_wrong[:20])
    print(f"\n[peer] kafka-python: {result.messages} messages in {result.seconds:.1f}s "
          f"({result.events_per_s:.0f} events/s), {result.rows_written} rows written")
