"""Who the Cassandra client logs in as and whether it uses TLS (no services)."""

from __future__ import annotations

import pytest

from connectors.cassandra_counters import client_security, connect_cluster


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
