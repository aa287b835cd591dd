"""The smoke pipeline submitted with `flink run -py` to the standalone cluster."""

from __future__ import annotations

import pytest

from local_stack.flink import rest_get, submit
from local_stack.paths import REPO_ROOT
from tests.kafka_io import produce, read_all
from tools.smoke.logic import mark

pytestmark = pytest.mark.integration


def test_flink_run_py_on_the_standalone_cluster(kafka_bootstrap, flink_cluster, new_topic):
    source, sink = new_topic(partitions=4), new_topic()
    values = [f"event-{i}" for i in range(1000)]
    produce(kafka_bootstrap, source, [v.encode() for v in values])

    res = submit(REPO_ROOT / "tools" / "smoke" / "main.py",
                 ["--bootstrap", kafka_bootstrap, "--source-topic", source, "--sink-topic", sink,
                  "--group-id", f"g-{source}", "--parallelism", "2"], timeout=300)
    job_id = next(line.split()[-1] for line in res.stdout.splitlines()
                  if "submitted with JobID" in line)

    job = rest_get(f"/jobs/{job_id}")
    assert job["state"] == "FINISHED"
    assert all(v["parallelism"] == 2 for v in job["vertices"])
    # the cluster applied flink-conf/: exactly-once checkpoints, retained on cancellation
    cp = rest_get(f"/jobs/{job_id}/checkpoints/config")
    assert cp["mode"] == "exactly_once"
    assert cp["externalization"]["enabled"] and not cp["externalization"]["delete_on_cancellation"]

    out = read_all(kafka_bootstrap, sink)
    assert sorted(v.decode() for v in out) == sorted(mark(v) for v in values)
