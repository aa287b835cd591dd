"""scripts/cql's cqlshrc: the job's address, and credentials and TLS only from the
environment, never on cqlsh's command line."""

from __future__ import annotations

import configparser

import pytest

from jobs.counters.ops.cql import command, cqlshrc

pytestmark = pytest.mark.unit


def _read(text: str) -> configparser.ConfigParser:
    rc = configparser.ConfigParser(interpolation=None)
    rc.read_string(text)
    return rc


def test_plain_text_names_the_node_only():
    rc = _read(cqlshrc("10.0.0.5", 9142, None, None))
    assert dict(rc["connection"]) == {"hostname": "10.0.0.5", "port": "9142"}
    assert not rc.has_section("authentication") and not rc.has_section("ssl")


def test_credentials_and_tls_go_into_the_file():
    rc = _read(cqlshrc("db", 9042, ("analyst", "p%ss=w0rd"), "/etc/ca.pem"))
    assert dict(rc["authentication"]) == {"username": "analyst", "password": "p%ss=w0rd"}
    assert rc["connection"]["ssl"] == "true"
    assert dict(rc["ssl"]) == {"certfile": "/etc/ca.pem", "validate": "true"}


def test_the_command_line_carries_no_secret():
    cmd = command("/venv/bin/cqlsh", "/tmp/x/cqlshrc", "live_counters", ["-e", "SELECT 1"])
    assert cmd == ["/venv/bin/cqlsh", "--cqlshrc", "/tmp/x/cqlshrc", "-k", "live_counters",
                   "-e", "SELECT 1"]
