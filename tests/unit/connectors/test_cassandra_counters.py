"""How the sink's writes are grouped into counter batches."""

from __future__ import annotations

import pytest

from connectors.cassandra_counters import (
    client_security,
    connect_cluster,
    pack_partitions,
    partition_of,
)
from connectors.counter_rows import GIFTS, TOTALS, WINDOWS, Write

pytestmark = pytest.mark.unit

DAY = 86_400_000


def test_a_partition_is_never_split_and_batches_stay_under_the_cell_limit():
    writes = [Write((TOTALS, r, 0), (1, 0, 0, 1, 0)) for r in range(10)]          # 2 cells
    writes += [Write((GIFTS, 3, g), (1, 5)) for g in range(1, 9)]                   # 16 cells
    writes += [Write((WINDOWS, 4, DAY + m * 60_000), (2, 0, 0)) for m in range(5)]  # 5 cells
    writes += [Write((WINDOWS, 4, 2 * DAY), (2, 0, 0))]                             # next day
    groups = pack_partitions(writes, max_cells=12)
    assert sorted(w.row for g in groups for w in g) == sorted(w.row for w in writes)
    homes = {}
    for i, g in enumerate(groups):
        for w in g:
            assert homes.setdefault(partition_of(w.row), i) == i   # one batch per partition
        cells = sum(1 for w in g for v in w.increment if v)
        assert cells <= 12 or len({partition_of(w.row) for w in g}) == 1
    assert len({partition_of(w.row) for w in writes}) == 13


def test_one_partition_over_the_limit_is_a_batch_of_its_own():
    big = [Write((GIFTS, 1, g), (1, 1)) for g in range(1, 31)]  # 60 cells
    groups = pack_partitions([Write((TOTALS, 2, 0), (1, 0, 0, 1, 0)), *big], max_cells=10)
    assert [len(g) for g in groups] == [1, 30]


class _PreparingSession:
    """Records what the store prepares (the statements' consistency is all this checks)."""

    def __init__(self) -> None:
        self.prepared: list = []

    def prepare(self, cql: str):
        from types import SimpleNamespace

        stmt = SimpleNamespace(cql=cql, consistency_level=None)
        self.prepared.append(stmt)
        return stmt


def test_the_store_settles_doubts_from_every_replica_and_writes_at_local_quorum():
    """A counter increment is applied by its leader replica before it is passed on: a read of
    a quorum that misses the leader would take a write in doubt for not applied, and the sink
    would add it again. Reads (and the probe the settle rule waits on) go to every replica."""
    from cassandra import ConsistencyLevel

    from connectors.cassandra_counters import CounterStore

    session = _PreparingSession()
    store = CounterStore(session, "ks")
    reads = [s for s in session.prepared if s.cql.startswith("SELECT")]
    assert len(reads) == 4  # three tables and the probe
    assert {s.consistency_level for s in reads} == {ConsistencyLevel.ALL}
    update = store._update_statement(TOTALS, (0, 3))
    assert update.cql.startswith("UPDATE ks.room_totals SET likes = likes + ?")
    assert update.consistency_level == ConsistencyLevel.LOCAL_QUORUM


# who the Cassandra client logs in as and whether it uses TLS

def test_plain_text_without_login_when_the_environment_says_nothing():
    assert client_security({}) == (None, None)


def test_credentials_and_the_ca_file_come_from_the_environment():
    env = {"CASSANDRA_USERNAME": "writer", "CASSANDRA_PASSWORD": "s3cret",
           "CASSANDRA_SSL_CA": "/etc/ssl/ca.pem"}
    assert client_security(env) == (("writer", "s3cret"), "/etc/ssl/ca.pem")


def test_explicit_arguments_win_over_the_environment():
    env = {"CASSANDRA_USERNAME": "writer", "CASSANDRA_PASSWORD": "s3cret",
           "CASSANDRA_SSL_CA": "/etc/ssl/ca.pem"}
    assert client_security(env, ("analyst", "pw"), "/tmp/other.pem") == (
        ("analyst", "pw"), "/tmp/other.pem")


def test_a_user_without_a_password_is_refused_rather_than_silently_anonymous():
    with pytest.raises(ValueError, match="both CASSANDRA_USERNAME and CASSANDRA_PASSWORD"):
        client_security({"CASSANDRA_USERNAME": "writer"})


def test_tls_verifies_the_node_against_the_ca(tmp_path, monkeypatch):
    from local_stack.paths import StackPaths
    from local_stack.tls import self_signed

    monkeypatch.delenv("CASSANDRA_USERNAME", raising=False)
    monkeypatch.delenv("CASSANDRA_PASSWORD", raising=False)
    ca = self_signed(StackPaths(tmp_path).conf("x"), "x")["certificate"]
    cluster = connect_cluster(["127.0.0.1"], 9142, ssl_ca=ca)
    assert cluster.ssl_context.check_hostname and cluster.ssl_context.verify_mode == 2
    with pytest.raises(FileNotFoundError, match="CASSANDRA_SSL_CA"):
        connect_cluster(["127.0.0.1"], 9142, ssl_ca=str(tmp_path / "missing.pem"))


def test_a_client_told_to_ignore_the_environment_connects_plain(monkeypatch):
    monkeypatch.setenv("CASSANDRA_USERNAME", "writer")
    monkeypatch.setenv("CASSANDRA_PASSWORD", "s3cret")
    monkeypatch.setenv("CASSANDRA_SSL_CA", "/nonexistent/ca.pem")
    cluster = connect_cluster(["127.0.0.1"], env={})  # e.g. the local stack's own probe
    assert cluster.ssl_context is None and cluster.auth_provider is None
