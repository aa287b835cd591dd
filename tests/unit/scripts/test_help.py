"""The scripts print their help at once: no setup, no lint, no service started."""

from __future__ import annotations

import os
import subprocess

import pytest

from local_stack.paths import REPO_ROOT

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("script, words", [
    ("demo", ["usage: scripts/demo", "--events", "--keep-running"]),
    ("test", ["usage: scripts/test", "-m unit"]),
    ("provision", ["usage: scripts/provision", "--partitions"]),
    ("stack", ["usage: scripts/stack"]),
    ("watch", ["usage: scripts/watch", "--once", "--job-name"]),
    ("cql", ["usage: scripts/cql", "--cassandra-hosts", "--keyspace"]),
])
def test_help_starts_nothing(script, words, tmp_path):
    # an empty cache directory and no virtual environment: setup would create both
    env = dict(os.environ, LIVE_COUNTERS_STACK_DIR=str(tmp_path / "stack"))
    if script in ("demo", "test"):
        env["LIVE_COUNTERS_VENV"] = str(tmp_path / "venv")
    res = subprocess.run([str(REPO_ROOT / "scripts" / script), "--help"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    for w in words:
        assert w in res.stdout
    assert not (tmp_path / "stack").exists() and not (tmp_path / "venv").exists()
    assert "[setup" not in res.stdout and "[stack]" not in res.stdout
