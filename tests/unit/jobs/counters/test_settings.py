"""The job's settings: flags over environment over defaults; bad values are usage errors."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from jobs.counters.ops.provision import SETTINGS as PROVISION_SETTINGS
from jobs.counters.ops.provision import parser as provision_parser
from jobs.counters.settings import Settings

pytestmark = pytest.mark.unit


def test_defaults_and_flags(monkeypatch):
    for f in fields(Settings):
        monkeypatch.delenv(Settings.env_name(f.name), raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("CASSANDRA_HOSTS", raising=False)
    assert Settings.parse([]) == Settings()
    s = Settings.parse(["--window-ms", "1000", "--cassandra-hosts", "a, b", "--startup",
                        "latest"])
    assert (s.window_ms, s.cassandra_hosts, s.startup) == (1000, ("a", "b"), "latest")


def test_flags_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("LIVE_COUNTERS_WINDOW_MS", "2000")
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "k:1")
    monkeypatch.setenv("LIVE_COUNTERS_BOOTSTRAP", "k:2")
    assert Settings.parse([]).window_ms == 2000
    assert Settings.parse([]).bootstrap == "k:2"  # the project's own name first
    assert Settings.parse(["--window-ms", "3000"]).window_ms == 3000


def test_settings_round_trip_through_flags():
    s = Settings(window_ms=1000, cassandra_hosts=("h1", "h2"), parallelism=2)
    assert Settings.parse(s.to_args()) == s


@pytest.mark.parametrize("argv, message", [
    (["--window-ms", "x"], "argument --window-ms: 'x' is not a whole number"),
    (["--window-ms", "7000"], "must divide a day"),
    (["--startup", "middle"], "--startup must be earliest or latest"),
    (["--flush-ms", "0"], "--flush-ms must be positive"),
    (["--parallelism", "-1"], "--parallelism must be 0"),
    (["--likes-topic", "t", "--gifts-topic", "t"], "three different topics"),
    (["--cassandra-hosts", ","], "names no host"),
])
def test_bad_values_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        Settings.parse(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: jobs.counters.main" in err and message in err


def test_bad_environment_values_are_usage_errors(monkeypatch, capsys):
    monkeypatch.setenv("LIVE_COUNTERS_FLUSH_MS", "soon")
    with pytest.raises(SystemExit):
        Settings.parse([])
    assert "environment variable LIVE_COUNTERS_FLUSH_MS: 'soon'" in capsys.readouterr().err


def test_help_says_what_each_setting_means_and_its_environment_variable(capsys):
    with pytest.raises(SystemExit):
        Settings.parse(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for f in fields(Settings):
        assert f"--{f.name.replace('_', '-')}" in out
        assert Settings.env_name(f.name) in out
        assert " ".join(f.metadata["help"].split()) in out


def test_provision_help_has_its_own_name_and_flags(capsys):
    with pytest.raises(SystemExit):
        provision_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: scripts/provision")
    for flag in ("--partitions", "--replication-factor", "--min-insync-replicas",
                 "--keyspace", "--replication", "--bootstrap"):
        assert flag in out
    for job_only in ("--settle-ms", "--bundle-ms", "--window-ms", "--flush-ms"):
        assert job_only not in out
    assert set(PROVISION_SETTINGS) <= {f.name for f in fields(Settings)}


def test_job_command_line_error_is_not_a_traceback():
    res = subprocess.run([sys.executable, "-m", "jobs.counters.main", "--window-ms", "x"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "--window-ms: 'x' is not a whole number" in res.stderr
