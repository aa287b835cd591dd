"""Submitting without a cluster says what to do instead of a Java stack trace; an earlier
version of the job can be exported and shipped beside this one."""

from __future__ import annotations

import subprocess

import pytest

from local_stack import flink
from local_stack.paths import REPO_ROOT
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


def test_an_earlier_version_is_exported_from_git_and_zipped_apart(tmp_path):
    import zipfile

    from local_stack.paths import StackPaths

    paths = StackPaths(tmp_path)
    rev = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                         capture_output=True, text=True, check=True).stdout.strip()
    root = flink.export_version(rev, paths)
    assert root == tmp_path / "versions" / rev
    assert (root / "jobs" / "counters" / "main.py").is_file()
    assert (root / "schemas").is_dir() and not (root / "tests").exists()
    assert flink.export_version(rev, paths) == root  # exported once
    zipped = flink.package_archive(paths, root)
    assert zipped.name == f"live_counters_packages-{rev}.zip"
    assert "jobs/counters/main.py" in zipfile.ZipFile(zipped).namelist()
    with pytest.raises(StackError, match="git archive no-such-revision failed"):
        flink.export_version("no-such-revision", paths)


# a version from before the product stopped importing the local stack (2026-12-01)
LEGACY_VERSION = "e6f69be47c6a18b1095bd099af191e00ef738908"


def test_the_zip_ships_the_product_and_an_older_version_its_local_stack(tmp_path):
    """The product imports neither the local stack nor the tooling, so a submission ships
    jobs/, connectors/ and schemas/ only; a version from before that (its jobs/runtime.py
    read local_stack/paths.py) gets the local_stack/ of its tree along, or it would not
    start."""
    import zipfile

    from local_stack.paths import StackPaths

    paths = StackPaths(tmp_path)
    shipped = {n.split("/")[0] for n in zipfile.ZipFile(flink.package_archive(paths)).namelist()}
    assert shipped == {"jobs", "connectors", "schemas"}
    older = flink.export_version(LEGACY_VERSION, paths)
    assert "from local_stack" in (older / "jobs" / "runtime.py").read_text()
    names = zipfile.ZipFile(flink.package_archive(paths, older)).namelist()
    assert {n.split("/")[0] for n in names} == {"jobs", "connectors", "schemas", "local_stack"}
    assert "local_stack/paths.py" in names


def test_a_job_of_the_tooling_ships_the_tooling_and_the_product_job_does_not(tmp_path):
    import zipfile

    from local_stack.paths import StackPaths

    assert flink._of_tooling(REPO_ROOT / "tools" / "smoke" / "main.py", None)
    assert flink._of_tooling(REPO_ROOT / "tools" / "bench" / "ceiling_job.py", None)
    assert not flink._of_tooling(REPO_ROOT / "jobs" / "counters" / "main.py", None)
    assert not flink._of_tooling(tmp_path / "tools" / "job.py", None)  # outside the tree
    zipped = flink.package_archive(StackPaths(tmp_path), tooling=True)
    names = zipfile.ZipFile(zipped).namelist()
    assert {n.split("/")[0] for n in names} == {"jobs", "connectors", "schemas", "tools",
                                                 "local_stack"}
    assert "tools/smoke/main.py" in names


def test_waiting_for_a_job_sees_every_task_running_and_a_failure(monkeypatch):
    answers = iter([ConnectionRefusedError(111, "refused"),
                    {"state": "RUNNING", "vertices": [{"status": "INITIALIZING"}]},
                    {"state": "RUNNING", "vertices": [{"status": "RUNNING"}] * 2}])

    def rest(path, timeout=5.0, base=flink.REST_URL):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(flink, "rest_get", rest)
    assert flink.wait_all_running("j1", 5, poll_s=0)
    monkeypatch.setattr(flink, "rest_get", lambda *a, **k: {"state": "FAILED"})
    with pytest.raises(flink.JobFailed, match="job j1 failed"):
        flink.wait_all_running("j1", 5, poll_s=0)
    monkeypatch.setattr(flink, "rest_get",
                        lambda *a, **k: {"state": "RESTARTING", "vertices": []})
    assert not flink.wait_all_running("j1", 0.05, poll_s=0.01)


def test_the_counting_job_is_found_in_this_tree_or_another_version(tmp_path):
    assert flink.counting_job() == REPO_ROOT / "jobs" / "counters" / "main.py"
    assert flink.counting_job(tmp_path) == tmp_path / "jobs" / "counters" / "main.py"


def test_an_exported_version_runs_its_own_java_code(tmp_path):
    """The upgrade scenario's previous version gets a jar built from its own jobs/counters/jvm,
    and a submission of it points the driver there (LIVE_COUNTERS_STACK_DIR)."""
    import zipfile

    from local_stack.paths import StackPaths
    from tools.faults.scenarios import PREVIOUS_VERSION

    older = flink.export_version(PREVIOUS_VERSION, StackPaths(tmp_path))
    jar = older / flink.VERSION_STACK / "lib" / "live-counters" / "live-counters-jvm.jar"
    names = zipfile.ZipFile(jar).namelist()
    assert "livecounters/TruthHold.class" in names and "livecounters/EventDecoder.class" in names
    assert (older / flink.VERSION_STACK / "lib" / "flink-connectors").is_symlink()
