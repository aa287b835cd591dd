"""examples/java-producer, a Java app built with the stack's JDK and Maven from the schema
files alone (Avro's BinaryMessageEncoder, Kafka's Java client): the job counts its events
exactly."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from connectors.avro_codec import SCHEMAS_DIR, SchemaRegistry
from connectors.counter_rows import rows_of
from connectors.events import Invalid, read_event
from local_stack.paths import REPO_ROOT
from tests.counting import JobNames, provision_for, wait_until_exact
from tests.kafka_io import read_all
from tools.workload import Expected, Workload

pytestmark = pytest.mark.integration

EXAMPLE = REPO_ROOT / "examples" / "java-producer"
EVENTS = 2_000


def test_the_job_counts_a_java_apps_events_exactly(tmp_path, kafka_bootstrap, cassandra_hosts,
                                                     flink_cluster):
    from local_stack.flink import cancel, counting_job, submit_detached
    from local_stack.java import java_home

    build = tmp_path / "java-producer"
    shutil.copytree(EXAMPLE, build)
    env = {**os.environ, "JAVA_HOME": str(java_home())}
    subprocess.run(["mvn", "-q", "-B", "package"], cwd=build, env=env, check=True,
                   timeout=900)
    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    classpath = os.pathsep.join([str(build / "target" / "classes"),
                                 str(build / "target" / "dependency" / "*")])
    done = subprocess.run(
        [str(java_home() / "bin" / "java"), "-cp", classpath,
         "livecounters.example.ProduceEvents", kafka_bootstrap, s.likes_topic, s.gifts_topic,
         str(SCHEMAS_DIR), str(EVENTS)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["sent", str(EVENTS)]

    # the oracle: what is on the topics, read by the job's specification (decode.py's rules)
    reg, expected = SchemaRegistry(), Expected()
    now = int(time.time() * 1000)
    sent = 0
    for topic, kind in ((s.likes_topic, "like"), (s.gifts_topic, "gift")):
        for value in read_all(kafka_bootstrap, topic):
            event = read_event(reg, value, topic, kind, now)
            assert not isinstance(event, Invalid), event.reason
            for row, values in rows_of(event, s.window_ms):
                expected.add(row, values)
            sent += 1
    assert sent == EVENTS

    job_id = submit_detached(counting_job(), names.args(kafka_bootstrap, cassandra_hosts),
                             parallelism=2)
    try:
        report = wait_until_exact(s, Workload([], expected, counted=EVENTS), timeout_s=240)
        assert report.exact, report.summary() + "\n" + "\n".join(report.rows_wrong[:20])
    finally:
        cancel(job_id)
