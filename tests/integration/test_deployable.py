"""The job as a cluster runs it: submitted with ``flink run`` from outside the checkout, its
driver and Python workers on an interpreter that has only the documented dependencies (not
this project), against a TaskManager started outside the checkout. Everything the job needs
besides those dependencies travels in the submission's zip (code and schemas); it ends exact.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from local_stack import flink
from local_stack.paths import REPO_ROOT, StackPaths
from tests.counting import JobNames, produce, provision_for, wait_until_exact
from tools.workload import generate

pytestmark = pytest.mark.integration

JOB_FILE = flink.counting_job()


def dependencies() -> list[str]:
    """The documented dependency list: pyproject.toml's (docs/cluster.md says so)."""
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


@pytest.fixture(scope="module")
def deps_only_python() -> Path:
    """A virtual environment with the dependencies only (kept under the stack's cache: the
    first run installs them, from pip's cache when it has them)."""
    venv = StackPaths.from_env().root / "venv-deps-only"
    python = venv / "bin" / "python"
    stamp = venv / "installed.txt"
    wanted = "\n".join(dependencies())
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *dependencies()],
                       check=True, timeout=1200)
        stamp.write_text(wanted)
    probe = subprocess.run([str(python), "-c", "import connectors"], capture_output=True,
                           text=True, cwd="/")
    assert probe.returncode != 0, "the dependencies-only environment must not hold the project"
    return python


def _workers_of() -> list[tuple[str, str]]:
    """(interpreter, working directory) of every running Python worker of Flink."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"pyflink.fn_execution.beam.beam_boot" not in argv:
                continue
            found.append((argv[0].decode(), os.readlink(f"/proc/{pid}/cwd")))
        except OSError:
            continue
    return found


def test_the_job_runs_on_workers_with_the_dependencies_only(
        kafka_bootstrap, cassandra_hosts, flink_cluster, deps_only_python):
    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    workload = generate(7, events=20_000, rooms=300, now_ms=int(time.time() * 1000))
    produce(s, workload)
    res = flink.submit(JOB_FILE, [*names.args(kafka_bootstrap, cassandra_hosts),
                                  "--flush-ms", "500"],
                       detached=True, parallelism=2, python=deps_only_python, timeout=300)
    job_id = flink.job_id_of(res.stdout)
    try:
        report = wait_until_exact(s, workload, timeout_s=300)
        workers = _workers_of()
        assert report.exact, report.summary() + "\n" + "\n".join(report.rows_wrong[:20])
        assert flink.rest_get(f"/jobs/{job_id}")["state"] == "RUNNING"
        assert workers, "no Python worker of Flink found"
        for exe, cwd in workers:
            assert exe == str(deps_only_python), f"a worker runs {exe}"
            # a checkout in the worker's directory would hide what the zip lacks
            assert not (Path(cwd) / "connectors").exists(), f"a worker runs in {cwd}"
    finally:
        flink.cancel(job_id)
