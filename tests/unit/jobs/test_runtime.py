"""Where the job finds its own Java code: never a build older than its sources."""

from __future__ import annotations

import os

import pytest

from jobs import runtime

pytestmark = pytest.mark.unit


def test_a_jar_older_than_a_java_source_is_refused(tmp_path, monkeypatch):
    jar = tmp_path / "lib" / "live-counters" / runtime.JOB_JAR
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")
    source = max((runtime.REPO_ROOT / "jobs" / "counters" / "jvm").rglob("*.java"),
                 key=lambda p: p.stat().st_mtime)
    monkeypatch.setattr(runtime, "stack_dir", lambda: tmp_path)
    newest = source.stat().st_mtime
    os.utime(jar, (newest + 10, newest + 10))
    assert runtime.job_jar() == jar
    os.utime(jar, (newest - 10, newest - 10))
    with pytest.raises(runtime.StaleBuild, match=source.name):
        runtime.job_jar()
    # an earlier version's jar (its own tree) is not compared with this checkout's sources
    assert runtime.job_jar(tmp_path) == jar
