"""The CQL files: statements render with the keyspace and roles from the environment."""

from __future__ import annotations

import pytest

from connectors.cassandra_schema import CQL_DIR, replication_clause, role_settings, statements

pytestmark = pytest.mark.unit


def test_tables_render_for_a_keyspace():
    stmts = statements(CQL_DIR / "001_counter_tables.cql", keyspace="ks1")
    assert len(stmts) == 3
    assert all("ks1." in s and "IF NOT EXISTS" in s for s in stmts)
    assert "PRIMARY KEY ((room_id, day), window_start)" in stmts[1]


def test_replication_clause():
    assert replication_clause({"class": "NetworkTopologyStrategy", "dc1": "3"}) == \
        "{'class': 'NetworkTopologyStrategy', 'dc1': '3'}"


def test_roles_need_passwords(monkeypatch):
    monkeypatch.delenv("LIVE_COUNTERS_WRITER_PASSWORD", raising=False)
    with pytest.raises(ValueError, match="WRITER_PASSWORD"):
        role_settings()


def test_roles_render_with_least_privilege(monkeypatch):
    monkeypatch.setenv("LIVE_COUNTERS_WRITER_PASSWORD", "w-secret")
    monkeypatch.setenv("LIVE_COUNTERS_ANALYST_PASSWORD", "a-secret")
    stmts = statements(CQL_DIR / "roles.cql", keyspace="live_counters", **role_settings())
    analyst = [s for s in stmts if "analyst" in s]
    assert "GRANT SELECT ON KEYSPACE live_counters TO analyst" in analyst
    assert not any("MODIFY" in s for s in analyst)
    assert "GRANT MODIFY ON KEYSPACE live_counters TO live_counters_writer" in stmts
