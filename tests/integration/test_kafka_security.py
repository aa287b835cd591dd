"""Kafka with SASL over TLS: the counting job reads the events, publishes its dead letters and
checks the consumer group's offsets through the local broker's SASL_SSL listener (SASL PLAIN,
a self-signed certificate), given only --kafka-config; the password appears in no log and no
argument; a wrong password stops the start with the reason. Real Kafka, Cassandra and an
embedded Flink."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from connectors.kafka_config import KafkaConfig
from jobs.counters.ops.provision import provision
from jobs.counters.settings import Settings
from local_stack.kafka import SECURE_BOOTSTRAP, secure_client_properties
from local_stack.paths import StackPaths
from tests.counting import JobNames, assert_dead_letters_exact, produce, wait_until_exact
from tools.workload import generate

pytestmark = pytest.mark.integration


def test_the_job_counts_over_sasl_ssl_and_shows_no_password(
        kafka_bootstrap, cassandra_hosts, tmp_path):
    paths = StackPaths.from_env()
    props = secure_client_properties(paths)
    password = KafkaConfig.from_file(props).kafka_python()["sasl_plain_password"]
    names = JobNames.fresh()
    plain = names.settings(kafka_bootstrap, cassandra_hosts)  # the test's own clients
    args = [*names.args(SECURE_BOOTSTRAP, cassandra_hosts), "--kafka-config", str(props),
            "--flush-ms", "500"]
    secure = Settings.parse(args)
    provision(secure)  # topics created through the secured listener
    wl = generate(3, events=5_000, rooms=100, now_ms=int(time.time() * 1000))
    log = paths.logs / f"counters-sasl-{names.suffix}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        job = subprocess.Popen([sys.executable, "-m", "jobs.counters.main", *args],
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        produce(plain, wl)
        report = wait_until_exact(secure, wl, timeout_s=240, alive=lambda: job.poll() is None)
        assert job.poll() is None, f"the job exited ({job.returncode}); see {log}"
        assert report.exact, report.summary()
        assert_dead_letters_exact(plain, wl)  # published by the job through SASL_SSL
        assert password not in " ".join(args)
        with open(f"/proc/{job.pid}/cmdline", "rb") as f:
            assert password.encode() not in f.read()
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=60)
    assert password not in log.read_text(), f"the Kafka password is in {log}"
    # Flink's own log of the embedded run (its Kafka clients log their configuration)
    flink_logs = list((paths.logs / "flink-embedded").glob("*.log"))
    assert flink_logs
    for f in flink_logs:
        assert password not in f.read_text(errors="replace"), f"the Kafka password is in {f}"


def test_a_wrong_kafka_password_stops_the_start_with_the_reason(
        kafka_bootstrap, cassandra_hosts, tmp_path):
    props = secure_client_properties(StackPaths.from_env())
    bad = tmp_path / "client.properties"
    bad.write_text(props.read_text().replace('password="', 'password="wrong-'))
    names = JobNames.fresh()
    provision(names.settings(kafka_bootstrap, cassandra_hosts))
    res = subprocess.run([sys.executable, "-m", "jobs.counters.main",
                          *names.args(SECURE_BOOTSTRAP, cassandra_hosts),
                          "--kafka-config", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 3, res.stderr[-2000:]
    assert "consumer group's offsets" in res.stderr and "--kafka-config" in res.stderr
    assert "wrong-" not in res.stderr
