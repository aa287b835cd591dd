"""Submitting without a cluster says what to do instead of a Java stack trace."""

from __future__ import annotations

import pytest

from local_stack import flink
from local_stack.process import StackError

pytestmark = pytest.mark.unit


def test_submit_without_a_cluster_names_the_fix(monkeypatch, tmp_path):
    asked = []

    def refused(path, timeout=5.0, base=flink.REST_URL):
        asked.append(base)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(flink, "rest_get", refused)
    with pytest.raises(StackError, match="scripts/stack up flink"):
        flink.submit(tmp_path / "job.py", [])
    # another cluster: asked there, and the hint is the flag, not the local stack
    with pytest.raises(StackError, match="http://flink-jm:8081.*check --jobmanager"):
        flink.submit(tmp_path / "job.py", [], jobmanager="flink-jm:8081")
    assert asked == [flink.REST_URL, "http://flink-jm:8081"]
