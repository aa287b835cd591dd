"""scripts/cql reaches the real Cassandra the way the job does, and reads the counter tables
into the job's keyspace."""

from __future__ import annotations

import os
import subprocess

import pytest

from local_stack.paths import REPO_ROOT

pytestmark = pytest.mark.integration


def test_scripts_cql_queries_the_keyspace(cassandra_hosts, keyspace):
    from local_stack.cassandra import connect

    with connect(cassandra_hosts) as session:
        session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, v counter)")
        session.execute(f"UPDATE {keyspace}.t SET v = v + 41 WHERE k = 1")
    env = {**os.environ, "CASSANDRA_HOSTS": ",".join(cassandra_hosts)}
    done = subprocess.run([str(REPO_ROOT / "scripts" / "cql"), "--keyspace", keyspace, "-e",
                           "SELECT v FROM t WHERE k = 1"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "41" in done.stdout.split() and "(1 rows)" in done.stdout
