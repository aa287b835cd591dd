"""Standalone Flink cluster of the local stack: one JobManager, one TaskManager (2 slots);
the replicated profile adds a second TaskManager (``taskmanager-2``), and the JobManager
spreads a job's slots over both (``taskmanager.load-balance.mode: slots``).

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
import shutil
import signal
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path

from local_stack import addresses, java
from local_stack.paths import FLINK_CONF_DIR, VENV_DIR, StackPaths
from local_stack.process import ManagedProcess, StackError

log = logging.getLogger(__name__)

REST_URL = addresses.FLINK_REST_URL
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


def _of_tooling(py_file: Path, root: Path | None) -> bool:
    """Whether ``py_file`` is a job of the tooling (under ``tools/`` of its tree)."""
    from local_stack.paths import REPO_ROOT

    try:
        rel = Path(py_file).resolve().relative_to((root or REPO_ROOT).resolve())
    except ValueError:
        return False
    return rel.parts[:1] == (TOOLING,)


def options(conf: dict[str, str] | None) -> list[str]:
    """Flink options as dynamic properties over ``flink-conf/config.yaml`` (``-D k=v``)."""
    return [arg for key, value in (conf or {}).items() for arg in ("-D", f"{key}={value}")]


def dynamic_properties(paths: StackPaths) -> list[str]:
    """Machine-specific settings that flink-conf/ leaves out: where checkpoints live."""
    return options({"execution.checkpointing.dir": f"file://{paths.checkpoints}",
                    "execution.checkpointing.savepoint-dir": f"file://{paths.savepoints}"})


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
        # started outside the checkout, as on a cluster: Python workers inherit the
        # TaskManager's directory, and the checkout there would hide what the job's zip lacks
        self.jobmanager.start(
            ["bash", str(bin_dir / "jobmanager.sh"), "start-foreground",
             *dynamic_properties(self.paths)], env=env, cwd=self.paths.run / "flink")
        start_taskmanager(self.taskmanager, self.paths)

    def ready(self) -> bool:
        overview = rest_get("/overview")
        return overview["taskmanagers"] >= 1 and overview["slots-total"] >= SLOTS


def start_taskmanager(proc: ManagedProcess, paths: StackPaths,
                      conf: dict[str, str] | None = None) -> int:
    """Start a TaskManager of the local cluster (as a supervisor would, also after a kill);
    ``conf``: Flink options of this TaskManager over ``flink-conf/config.yaml``."""
    argv = ["bash", str(flink_home() / "bin" / "taskmanager.sh"), "start-foreground",
            *dynamic_properties(paths), *options(conf)]
    return proc.start(argv, env=flink_env(paths), cwd=paths.run / "flink")


def kill_taskmanager(proc: ManagedProcess, paths: StackPaths,
                     timeout_s: float = 30) -> tuple[float, float]:
    """kill -9 of a TaskManager, and a new one started as soon as it is gone (as a supervisor
    would); returns when it was killed and when the new one was started (monotonic)."""
    killed = time.monotonic()
    proc.signal(signal.SIGKILL)
    while proc.is_running() and time.monotonic() < killed + timeout_s:
        time.sleep(0.05)
    started = time.monotonic()
    start_taskmanager(proc, paths)
    return killed, started


class SecondTaskManager:
    """The replicated profile's second TaskManager, registered with the stack's JobManager:
    a job at parallelism 2 then runs on two processes, and losing one is a partial failure."""

    name = "taskmanager-2"

    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths
        self.taskmanager = ManagedProcess("flink-taskmanager-2", paths.run, paths.logs)

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.taskmanager]

    @property
    def log_file(self) -> Path:
        return self.paths.logs / "flink"

    def start(self) -> None:
        # registers with the JobManager once it answers (stack.up starts "flink" with it)
        start_taskmanager(self.taskmanager, self.paths)

    def ready(self) -> bool:
        return rest_get("/overview")["taskmanagers"] >= 2


def rest_get(path: str, timeout: float = 5.0, base: str = REST_URL) -> dict:
    with urllib.request.urlopen(base + path, timeout=timeout) as resp:
        return json.load(resp)


def submit(py_file: Path, job_args: list[str], *, paths: StackPaths | None = None,
           detached: bool = False, parallelism: int | None = None,
           restore_from: str | None = None, python: Path | None = None,
           timeout: float | None = None, jobmanager: str | None = None,
           root: Path | None = None,
           conf: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``flink run -py py_file job_args`` against the local standalone cluster, or the one
    whose REST endpoint is ``jobmanager`` (``host:port``).

    The project's packages go along as a zip (``-pyfs``), so the cluster's Python needs only
    the dependencies, not this checkout: the same command works against a remote cluster.

    Attached (the default) returns when the job ends; detached returns once it is submitted.
    ``restore_from`` is a savepoint or retained checkpoint to start from (``flink run -s``).
    ``conf``: Flink options for this job only (``flink run -Dkey=value``), over
    ``flink-conf/config.yaml``.
    ``root``: the packages come from that tree (another version of the project, e.g. one
    ``export_version`` made) instead of this checkout.
    ``python`` is the interpreter of the job's driver and Python workers (``-pyclientexec``,
    ``-pyexec``; default: ``python`` on the PATH, this project's environment). The client
    runs outside the checkout, so the job gets its packages from the zip only.
    The client's output is returned; a non-zero exit raises StackError with that output.
    """
    paths = paths or StackPaths.from_env()
    if root is None:
        from jobs.runtime import job_jar

        job_jar()  # StaleBuild if the job's Java code changed since scripts/setup built it
    url = f"http://{jobmanager}" if jobmanager else REST_URL
    try:
        rest_get("/overview", timeout=5, base=url)
    except OSError as exc:
        hint = ("check --jobmanager" if jobmanager else
                "start one with: scripts/stack up flink")
        raise StackError(f"no Flink cluster answers at {url} ({exc}); {hint}") from None
    cmd = [str(flink_home() / "bin" / "flink"), "run", "-m", url.removeprefix("http://"),
           "-pyfs", str(package_archive(paths, root, tooling=_of_tooling(py_file, root)))]
    if detached:
        cmd.append("--detached")
    if parallelism is not None:
        cmd += ["--parallelism", str(parallelism)]
    if restore_from is not None:
        cmd += ["--fromSavepoint", restore_from]
    cmd += options(conf)
    if python is not None:
        cmd += ["-pyclientexec", str(python), "-pyexec", str(python)]
    cmd += ["-py", str(Path(py_file).resolve()), *job_args]
    outside = paths.run / "flink"
    outside.mkdir(parents=True, exist_ok=True)
    env = flink_env(paths)
    if root is not None and (root / VERSION_STACK).is_dir():
        env["LIVE_COUNTERS_STACK_DIR"] = str(root / VERSION_STACK)  # that version's own jars
    res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=timeout, cwd=outside)
    if res.returncode != 0:
        raise StackError(f"flink run failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def job_metric_sums(job_id: str, names: list[str], agg: str = "sum") -> dict[str, float]:
    """User metrics of a job (ids ending in ``.<name>``) summed over subtasks and operators
    (``agg="max"``: the largest value of any subtask), as the REST metric store holds them now
    (it refreshes every ``metrics.fetcher.update-interval``); a name with no value yet is
    absent."""
    out: dict[str, float] = {}
    for v in rest_get(f"/jobs/{job_id}")["vertices"]:
        base = f"/jobs/{job_id}/vertices/{v['id']}/subtasks/metrics"
        wanted = [m["id"] for m in rest_get(base) if m["id"].rsplit(".", 1)[-1] in names]
        if wanted:
            for m in rest_get(base + "?get=" + ",".join(wanted)):
                name = m["id"].rsplit(".", 1)[-1]
                if agg == "max":
                    out[name] = max(out.get(name, float("-inf")), float(m["max"]))
                else:
                    out[name] = out.get(name, 0.0) + float(m["sum"])
    return out


def job_restarts(job_id: str, timeout: float = 2) -> int | None:
    """How often a job failed and restarted: the larger of Flink's ``numRestarts`` and the
    number of failures in the job's exception history (``/jobs/<id>/exceptions``; the
    metric alone was seen to read 0 after a TaskManager kill had restarted the job, because
    the REST metric store serves a job's metrics only some seconds after a restart). None
    when neither answered (the JobManager is down or busy)."""
    got: list[int] = []
    try:
        history = rest_get(f"/jobs/{job_id}/exceptions", timeout=timeout)
        got.append(len(history.get("exceptionHistory", {}).get("entries", [])))
    except Exception as exc:  # noqa: BLE001 - the metric may still answer
        log.debug("restarts: exceptions of %s: %s", job_id, exc)
    try:
        got += [int(m["value"]) for m in
                rest_get(f"/jobs/{job_id}/metrics?get=numRestarts", timeout=timeout)]
    except Exception as exc:  # noqa: BLE001
        log.debug("restarts: numRestarts of %s: %s", job_id, exc)
    return max(got) if got else None


# the counting job's file, relative to a tree of the project (this checkout or a version)
COUNTING_JOB = Path("jobs") / "counters" / "main.py"


def counting_job(root: Path | None = None) -> Path:
    """The counting job's file in this checkout, or in the tree at ``root``."""
    from local_stack.paths import REPO_ROOT

    return (root or REPO_ROOT) / COUNTING_JOB


def submit_detached(py_file: Path, job_args: list[str], *, parallelism: int | None = None,
                    paths: StackPaths | None = None, restore_from: str | None = None,
                    root: Path | None = None, timeout: float = 300) -> str:
    """``submit`` a job without waiting for it to end; its JobID."""
    res = submit(py_file, job_args, detached=True, parallelism=parallelism, paths=paths,
                 restore_from=restore_from, root=root, timeout=timeout)
    return job_id_of(res.stdout)


class JobFailed(StackError):
    """A job failed while it was waited for."""


def all_tasks_running(job_id: str, timeout: float = 3) -> bool:
    """Whether ``job_id`` runs with every task running (False while the REST API does not
    answer); JobFailed once the job has failed."""
    try:
        job = rest_get(f"/jobs/{job_id}", timeout=timeout)
    except (OSError, KeyError):
        return False
    if job.get("state") == "FAILED":
        raise JobFailed(f"job {job_id} failed")
    return job.get("state") == "RUNNING" and all(v["status"] == "RUNNING"
                                                  for v in job.get("vertices", ()))


def wait_all_running(job_id: str, timeout_s: float, poll_s: float = 0.5) -> bool:
    """Until every task of ``job_id`` runs: True, or False after ``timeout_s``."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all_tasks_running(job_id):
            return True
        time.sleep(poll_s)
    return False


def job_id_of(submit_output: str) -> str:
    """The JobID that ``flink run --detached`` printed."""
    for line in submit_output.splitlines():
        if "JobID" in line:
            return line.split()[-1]
    raise StackError(f"no JobID in the output of flink run:\n{submit_output}")


def rest_call(method: str, path: str, body: dict | None = None, timeout: float = 10.0) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(REST_URL + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else {}


def cancel(job_id: str) -> None:
    rest_call("PATCH", f"/jobs/{job_id}?mode=cancel")


def stop_with_savepoint(job_id: str, target_dir: Path, timeout: float = 300.0) -> str:
    """Stop ``job_id`` with a savepoint in ``target_dir`` (no drain); the savepoint's path."""
    import time

    rid = rest_call("POST", f"/jobs/{job_id}/stop",
                    {"targetDirectory": f"file://{target_dir}", "drain": False})["request-id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = rest_get(f"/jobs/{job_id}/savepoints/{rid}")
        if st["status"]["id"] == "COMPLETED":
            op = st.get("operation") or {}
            if "failure-cause" in op:
                raise StackError(f"stop-with-savepoint of {job_id} failed: "
                                 f"{op['failure-cause'].get('stack-trace', op)[:2000]}")
            return op["location"]
        time.sleep(0.5)
    raise StackError(f"stop-with-savepoint of {job_id} did not finish in {timeout:.0f}s")


def latest_checkpoint(paths: StackPaths, job_id: str) -> str | None:
    """The newest complete retained checkpoint of ``job_id`` (a ``chk-N`` directory with its
    ``_metadata``), to resume from after the JobManager was lost; None if there is none."""
    done = [(int(d.name.removeprefix("chk-")), d)
            for d in (paths.checkpoints / job_id).glob("chk-*") if (d / "_metadata").is_file()]
    return str(max(done)[1]) if done else None


# what a cluster's Python workers need besides the dependencies: the product's code and the
# schemas the decoder reads next to it (connectors/avro_codec.py, SCHEMAS_DIR)
PACKAGES = ("jobs", "connectors", "schemas")
# a job of the tooling (tools/smoke, tools/bench/ceiling_job.py: run on the local cluster only)
# ships the tooling too, and the local stack the tooling imports
TOOLING = "tools"
TOOLING_PACKAGES = (TOOLING, "local_stack")
# versions before the product stopped importing the local stack (their jobs/runtime.py reads
# local_stack/paths.py) need it shipped along; the current tree does not
LEGACY_PACKAGES = ("local_stack",)


def _shipped(root: Path, current: bool) -> tuple[str, ...]:
    """The packages of the tree at ``root`` that go with its job: the product's, and for an
    older version (``current`` False) whichever of ``LEGACY_PACKAGES`` its tree holds."""
    legacy = () if current else tuple(p for p in LEGACY_PACKAGES if (root / p).is_dir())
    return PACKAGES + legacy


def package_archive(paths: StackPaths, root: Path | None = None, *,
                    tooling: bool = False) -> Path:
    """A zip of the product's Python packages and schemas (of this checkout, or of the tree at
    ``root``: another version), for ``flink run -pyfs``; rebuilt every call. The tooling and
    the local stack stay out (the product does not import them), unless ``tooling``: a job of
    the tooling's own gets ``tools/`` and ``local_stack/`` along."""
    from local_stack.paths import REPO_ROOT

    name = ("live_counters_packages" + ("-tools" if tooling else "")
            + (f"-{root.name}" if root else ""))
    tree = root or REPO_ROOT
    out = paths.root / "dist" / f"{name}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        extra = tuple(p for p in TOOLING_PACKAGES if tooling and (tree / p).is_dir())
        for pkg in dict.fromkeys(_shipped(tree, current=root is None) + extra):
            for f in sorted((tree / pkg).rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    zf.write(f, f.relative_to(tree))
    tmp.replace(out)
    return out


# in an exported version: its own jars, where its jobs/runtime.py looks when
# LIVE_COUNTERS_STACK_DIR points here (``submit(root=...)`` does)
VERSION_STACK = "stack"


def build_version_jar(tree: Path, paths: StackPaths) -> None:
    """The Java code of the version at ``tree`` (``jobs/counters/jvm``, if it has any),
    compiled as scripts/setup compiles this checkout's, into ``tree/stack/lib/live-counters``,
    beside a link to this stack's connector jars: a version runs with its own operators."""
    import glob

    import pyflink

    sources = sorted(str(p) for p in (tree / "jobs" / "counters" / "jvm").rglob("*.java"))
    if not sources:
        return
    from jobs.runtime import connector_jars

    lib = Path(pyflink.__file__).parent / "lib"
    connectors = sorted(paths.lib("flink-connectors").glob("*.jar")) or connector_jars()
    classpath = [*glob.glob(str(lib / "flink-dist-*.jar")),
                 *glob.glob(str(lib / "flink-table-api-java-uber-*.jar")),
                 *map(str, connectors)]
    stack_lib = tree / VERSION_STACK / "lib"
    classes = tree / VERSION_STACK / "build"
    (stack_lib / "live-counters").mkdir(parents=True, exist_ok=True)
    (stack_lib / "flink-connectors").symlink_to(paths.lib("flink-connectors"))
    home = java.java_home()
    built = subprocess.run([str(home / "bin" / "javac"), "-nowarn", "--release", "17", "-cp",
                            os.pathsep.join(classpath), "-d", str(classes), *sources],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise StackError(f"the Java code of {tree.name} does not compile (is scripts/setup "
                         f"done?):\n{built.stdout}{built.stderr}")
    subprocess.run([str(home / "bin" / "jar"), "--create", "--file",
                    str(stack_lib / "live-counters" / "live-counters-jvm.jar"), "-C",
                    str(classes), "."], check=True, capture_output=True)


def export_version(rev: str, paths: StackPaths | None = None) -> Path:
    """The packages of git revision ``rev`` of this repository (``PACKAGES``, and
    ``LEGACY_PACKAGES`` where the revision has them), exported once to
    ``<stack>/versions/<rev>``, with its own Java code built (``build_version_jar``): an
    earlier version of the job to run beside this one."""
    from local_stack.paths import REPO_ROOT

    paths = paths or StackPaths.from_env()
    out = paths.root / "versions" / rev
    if (out / "jobs" / "counters" / "main.py").is_file():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    listed = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-tree", "--name-only", rev],
                            capture_output=True, text=True)
    present = set(listed.stdout.split())
    wanted = [p for p in (*PACKAGES, *LEGACY_PACKAGES) if p in present or p in PACKAGES]
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", "--format=tar", rev,
                              *wanted], capture_output=True)
    if archive.returncode != 0:
        raise StackError(f"git archive {rev} failed (a clone with its history is needed): "
                         f"{archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
    build_version_jar(tmp, paths)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
