"""The smoke pipeline on the embedded mini-cluster: Kafka in, Python map, Kafka out."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.kafka_io import produce, read_all
from tools.smoke.logic import mark

pytestmark = pytest.mark.flink


def test_smoke_job_copies_a_topic_through_the_kafka_connector(kafka_bootstrap, new_topic):
    source = new_topic()
    sink = f"{source}-out"  # not created here: the job creates its topics (README example)
    values = [f"event-{i}" for i in range(500)]
    produce(kafka_bootstrap, source, [v.encode() for v in values])

    # A fresh interpreter, as a user runs it: `python -m tools.smoke.main` starts a mini-cluster.
    res = subprocess.run(
        [sys.executable, "-m", "tools.smoke.main", "--bootstrap", kafka_bootstrap,
         "--source-topic", source, "--sink-topic", sink, "--group-id", f"g-{source}"],
        capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr

    out = read_all(kafka_bootstrap, sink)
    assert sorted(v.decode() for v in out) == sorted(mark(v) for v in values)
