"""Scenario 7 of the benchmark (the producer library's rate) against the real Kafka: both
variants end exact, and merging sends fewer Kafka messages than there were taps."""

from __future__ import annotations

import pytest

from tools.bench.producer_bench import SCENARIO, run_producer_bench
from tools.bench.report import GIFTS, MERGE_RATIO, MESSAGES, TAPS

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("merge", [True, False], ids=["merging", "no-merging"])
def test_producer_bench_is_exact(kafka_bootstrap, new_topic, merge):
    likes, gifts = new_topic(), new_topic()
    lines: list[str] = []
    m = run_producer_bench(kafka_bootstrap, likes, gifts, 3.0, merge, progress=lines.append)
    assert m.exact, m.extra
    assert m.scenario == SCENARIO and lines
    assert m.seconds >= 3.0 and m.events == m.extra[TAPS] + m.extra[GIFTS] > 0
    if merge:
        assert m.extra[MESSAGES] - m.extra[GIFTS] < m.extra[TAPS]
        assert m.extra[MERGE_RATIO] > 1.0
    else:
        assert m.extra[MESSAGES] == m.events and m.extra[MERGE_RATIO] == 1.0


def test_older_messages_on_the_topics_are_not_counted(kafka_bootstrap, new_topic):
    likes, gifts = new_topic(), new_topic()
    first = run_producer_bench(kafka_bootstrap, likes, gifts, 0.5, merge=False)
    second = run_producer_bench(kafka_bootstrap, likes, gifts, 0.5, merge=False)
    assert first.exact and second.exact

