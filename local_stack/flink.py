"""Standalone Flink cluster of the local stack: one JobManager, one TaskManager (2 slots).

Both run from the Flink distribution inside the installed ``apache-flink`` package, with
``flink-conf/`` as their configuration, started by ``jobmanager.sh``/``taskmanager.sh
start-foreground`` (which exec the JVM, so the PID we track is the JVM's). Python UDF workers
of the TaskManager use the project's virtual environment. Ready means the REST API on
127.0.0.1:8081 reports a TaskManager with its slots registered.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.request
import zipfile
from pathlib import Path

from local_stack import java
from local_stack.paths import FLINK_CONF_DIR, VENV_DIR, StackPaths
from local_stack.process import ManagedProcess, StackError

log = logging.getLogger(__name__)

REST_URL = "http://127.0.0.1:8081"
SLOTS = 2


def flink_home() -> Path:
    """The Flink distribution shipped inside the installed apache-flink package."""
    try:
        import pyflink
    except ImportError as exc:
        raise StackError("apache-flink is not installed: run scripts/setup") from exc
    return Path(pyflink.__file__).resolve().parent


def flink_env(paths: StackPaths) -> dict[str, str]:
    """Environment for Flink's scripts and the ``flink`` client: our conf, logs, Java, venv."""
    env = dict(os.environ)
    env.update(
        FLINK_CONF_DIR=str(FLINK_CONF_DIR),
        FLINK_LOG_DIR=str(paths.logs / "flink"),
        FLINK_PID_DIR=str(paths.run / "flink"),
        JAVA_HOME=str(java.java_home()),
        # the job's driver may run from the shipped zip: tell it where the jars are
        LIVE_COUNTERS_STACK_DIR=str(paths.root),
        # python UDF workers and `flink run -py` use the project's interpreter
        PATH=f"{VENV_DIR / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def dynamic_properties(paths: StackPaths) -> list[str]:
    """Machine-specific settings that flink-conf/ leaves out: where checkpoints live."""
    return [
        "-D", f"execution.checkpointing.dir=file://{paths.checkpoints}",
        "-D", f"execution.checkpointing.savepoint-dir=file://{paths.savepoints}",
    ]


class FlinkService:
    name = "flink"

    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths
        self.jobmanager = ManagedProcess("flink-jobmanager", paths.run, paths.logs)
        self.taskmanager = ManagedProcess("flink-taskmanager", paths.run, paths.logs)

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.jobmanager, self.taskmanager]

    @property
    def log_file(self) -> Path:
        return self.paths.logs / "flink"

    def start(self) -> None:
        bin_dir = flink_home() / "bin"
        env = flink_env(self.paths)
        for d in (self.paths.logs / "flink", self.paths.run / "flink",
                  self.paths.checkpoints, self.paths.savepoints):
            d.mkdir(parents=True, exist_ok=True)
        self.jobmanager.start(
            ["bash", str(bin_dir / "jobmanager.sh"), "start-foreground",
             *dynamic_properties(self.paths)], env=env)
        self.taskmanager.start(
            ["bash", str(bin_dir / "taskmanager.sh"), "start-foreground",
             *dynamic_properties(self.paths)], env=env)

    def ready(self) -> bool:
        overview = rest_get("/overview")
        return overview["taskmanagers"] >= 1 and overview["slots-total"] >= SLOTS


def rest_get(path: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(REST_URL + path, timeout=timeout) as resp:
        return json.load(resp)


def submit(py_file: Path, job_args: list[str], *, paths: StackPaths | None = None,
           detached: bool = False, parallelism: int | None = None,
           timeout: float | None = None) -> subprocess.CompletedProcess:
    """``flink run -py py_file job_args`` against the local standalone cluster.

    The project's packages go along as a zip (``-pyfs``), so the cluster's Python needs only
    the dependencies, not this checkout: the same command works against a remote cluster.

    Attached (the default) returns when the job ends; detached returns once it is submitted.
    The client's output is returned; a non-zero exit raises StackError with that output.
    """
    paths = paths or StackPaths.from_env()
    try:
        rest_get("/overview", timeout=5)
    except OSError as exc:
        raise StackError(f"no Flink cluster answers at {REST_URL} ({exc}); "
                         "start one with: scripts/stack up flink") from None
    cmd = [str(flink_home() / "bin" / "flink"), "run", "-m", REST_URL.removeprefix("http://"),
           "-pyfs", str(package_archive(paths))]
    if detached:
        cmd.append("--detached")
    if parallelism is not None:
        cmd += ["--parallelism", str(parallelism)]
    cmd += ["-py", str(py_file), *job_args]
    res = subprocess.run(cmd, env=flink_env(paths), capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise StackError(f"flink run failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


PACKAGES = ("jobs", "connectors", "local_stack")


def package_archive(paths: StackPaths) -> Path:
    """A zip of the project's Python packages, for ``flink run -pyfs``; rebuilt every call."""
    from local_stack.paths import REPO_ROOT

    out = paths.root / "dist" / "live_counters_packages.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for pkg in PACKAGES:
            for f in sorted((REPO_ROOT / pkg).rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    zf.write(f, f.relative_to(REPO_ROOT))
    tmp.replace(out)
    return out
