"""Submitting without a cluster says what to do instead of a Java stack trace."""

from __future__ import annotations

import pytest

from local_stack import flink
from local_stack.process import StackError

pytestmark = pytest.mark.unit


def test_submit_without_a_cluster_names_the_fix(monkeypatch, tmp_path):
    def refused(path, timeout=5.0):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(flink, "rest_get", refused)
    with pytest.raises(StackError, match="scripts/stack up flink"):
        flink.submit(tmp_path / "job.py", [])
