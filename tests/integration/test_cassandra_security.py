"""Cassandra with password authentication, authorization and client TLS: the stack's
``cassandra-secure`` node (port 9142, ``PasswordAuthenticator``, ``CassandraAuthorizer``, TLS
required, a self-signed certificate for 127.0.0.1). Provisioning as the superuser creates the
keyspace and the writer and analyst roles; the job counts exactly as the writer, over TLS,
given its credentials only in the environment; the analyst reads the counts and is refused
writes; no password is in the job's argv, its log or Flink's logs. Real Kafka, Cassandra and
an embedded Flink."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

import pytest
from cassandra import Unauthorized
from cassandra.cluster import NoHostAvailable

from jobs.counters.ops.provision import provision
from jobs.counters.settings import Settings
from local_stack import stack
from local_stack.cassandra import SECURE, SUPERUSER, CassandraService, connect
from local_stack.paths import StackPaths
from tests.counting import JobNames, assert_dead_letters_exact, produce, wait_until_exact
from tools.workload import generate

pytestmark = pytest.mark.integration

HOSTS = [SECURE.address]


@pytest.fixture(scope="module")
def secure_node():
    """The secured node, started for this module and stopped after it (it takes 1 GiB)."""
    paths = StackPaths.from_env()
    stack.up(["cassandra-secure"], paths, progress=print)
    try:
        yield CassandraService(paths, SECURE)
    finally:
        stack.down(["cassandra-secure"], paths, progress=print)


def _client_env(role: str, password: str, ca: str) -> dict[str, str]:
    return {"CASSANDRA_USERNAME": role, "CASSANDRA_PASSWORD": password, "CASSANDRA_SSL_CA": ca}


def test_the_job_counts_as_the_writer_over_tls_and_the_analyst_only_reads(
        secure_node, kafka_bootstrap, monkeypatch):
    paths = StackPaths.from_env()
    ca = secure_node.client_options()["ssl_ca"]
    writer, analyst = "live_counters_writer", "analyst"
    writer_pw, analyst_pw = secrets.token_hex(12), secrets.token_hex(12)
    names = JobNames.fresh()
    args = [*names.args(kafka_bootstrap, HOSTS), "--cassandra-port", str(SECURE.native_port),
            "--flush-ms", "500"]
    s = Settings.parse(args)

    # without TLS the node refuses the client; with TLS but no credentials too
    with pytest.raises(NoHostAvailable):
        with connect(HOSTS, SECURE.native_port, connect_timeout=5, credentials=SUPERUSER):
            pass
    with pytest.raises(NoHostAvailable):
        with connect(HOSTS, SECURE.native_port, connect_timeout=5, ssl_ca=ca):
            pass

    # provisioning as the superuser: keyspace, tables, roles with the passwords given
    for key, value in {**_client_env(*SUPERUSER, ca),
                       "LIVE_COUNTERS_WRITER_PASSWORD": writer_pw,
                       "LIVE_COUNTERS_ANALYST_PASSWORD": analyst_pw}.items():
        monkeypatch.setenv(key, value)
    provision(s)

    wl = generate(4, events=5_000, rooms=100, now_ms=int(time.time() * 1000))
    log = paths.logs / f"counters-cassandra-secure-{names.suffix}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_COUNTERS_") or
           k == "LIVE_COUNTERS_STACK_DIR"}
    env.update(_client_env(writer, writer_pw, ca))
    with open(log, "w") as out:
        job = subprocess.Popen([sys.executable, "-m", "jobs.counters.main", *args], env=env,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        produce(s, wl)
        # the analyst reads every counter row (verify connects with the environment's role)
        for key, value in _client_env(analyst, analyst_pw, ca).items():
            monkeypatch.setenv(key, value)
        report = wait_until_exact(s, wl, timeout_s=240, alive=lambda: job.poll() is None)
        assert job.poll() is None, f"the job exited ({job.returncode}); see {log}"
        assert report.exact, report.summary()
        assert_dead_letters_exact(s, wl)
        with open(f"/proc/{job.pid}/cmdline", "rb") as f:
            cmdline = f.read()
        for pw in (writer_pw, analyst_pw):
            assert pw.encode() not in cmdline
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=60)

    with connect(HOSTS, SECURE.native_port, s.keyspace, credentials=(analyst, analyst_pw),
                 ssl_ca=ca) as session:
        rooms = session.execute("SELECT room_id, events FROM room_totals").all()
        assert len(rooms) == len(wl.expected.totals)
        with pytest.raises(Unauthorized):
            session.execute("UPDATE room_totals SET likes = likes + 1 WHERE room_id = 1")
        with pytest.raises(Unauthorized):
            session.execute("DROP TABLE room_totals")
    with connect(HOSTS, SECURE.native_port, s.keyspace, credentials=(writer, writer_pw),
                 ssl_ca=ca) as session:
        with pytest.raises(Unauthorized):  # the writer changes counters, not the schema
            session.execute("DROP TABLE room_totals")

    text = log.read_text(errors="replace")
    flink_logs = list((paths.logs / "flink-embedded").glob("*.log"))
    assert flink_logs
    for pw in (writer_pw, analyst_pw):
        assert pw not in text, f"a password is in {log}"
        for f in flink_logs:
            assert pw not in f.read_text(errors="replace"), f"a password is in {f}"


def test_a_wrong_cassandra_password_stops_the_start_with_the_reason(
        secure_node, kafka_bootstrap):
    ca = secure_node.client_options()["ssl_ca"]
    names = JobNames.fresh()
    env = dict(os.environ, **_client_env("live_counters_writer", "wrong-password", ca))
    res = subprocess.run([sys.executable, "-m", "jobs.counters.main",
                          *names.args(kafka_bootstrap, HOSTS),
                          "--cassandra-port", str(SECURE.native_port)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 3, res.stderr[-2000:]
    assert "cannot connect to Cassandra" in res.stderr and "CASSANDRA_PASSWORD" in res.stderr
    assert "wrong-password" not in res.stderr + res.stdout
