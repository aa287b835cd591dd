"""The Quix Streams peer's own environment: a venv with Quix Streams (kept away from the
project venv's apache-flink pins), made on first use, and running the peer
(``tools/bench/quix_peer.py``) in it as a subprocess, from the project's environment."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from local_stack.paths import REPO_ROOT
from tools.bench.peer import PeerResult

log = logging.getLogger(__name__)

QUIX_VERSION = "3.28.1"
QUIX_REQUIREMENTS = (f"quixstreams=={QUIX_VERSION}", "cassandra-driver==3.30.1",
                     "fastavro==1.13.1")


def quix_venv_dir(root: Path = REPO_ROOT) -> Path:
    return root / ".stack" / "venvs" / "quix"


def ensure_quix_venv(root: Path = REPO_ROOT) -> Path | None:
    """The Python of a venv with Quix Streams (``.stack/venvs/quix``, created on first use:
    quixstreams' dependencies, confluent-kafka among them, are kept away from the project
    venv's apache-flink pins). None, with the reason logged, when it cannot be installed."""
    venv = quix_venv_dir(root)
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import quixstreams, cassandra, fastavro; "
             "print(quixstreams.__version__)"]
    if python.exists():
        done = subprocess.run(check, capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == QUIX_VERSION:
            return python
    log.info("installing Quix Streams %s into %s", QUIX_VERSION, venv)
    steps = [[shutil.which("python3") or sys.executable, "-m", "venv", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              *QUIX_REQUIREMENTS],
             check]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("cannot set up the Quix venv: %s: %s", " ".join(step[:3]), exc)
            return None
        if done.returncode != 0:
            log.warning("cannot set up the Quix venv: %s failed (%d): %s", " ".join(step[:4]),
                        done.returncode, (done.stderr or done.stdout).strip()[-2000:])
            return None
    return python


def run_quix_peer(bootstrap: str, likes_topic: str, gifts_topic: str,
                  cassandra_hosts: list[str], keyspace: str, window_ms: int,
                  total_messages: int, progress: Callable[[int], None] | None = None,
                  flush_every_s: float = 1.0, *, python: Path | None = None,
                  internal_topic_prefix: str = "", changelog: bool = True,
                  rows_per_batch: int = 1,
                  timeout_s: float = 7200.0) -> PeerResult | None:
    """The Quix Streams peer (``tools/bench/quix_peer.py``) on the same backlog: a subprocess of
    the Quix venv (``ensure_quix_venv``); None when that venv cannot be had.

    Quix keeps its state in RocksDB under a temporary directory (removed afterwards) and, with
    ``changelog``, in changelog topics named ``<internal_topic_prefix>changelog__<group>...``,
    deleted afterwards. Raises RuntimeError when the subprocess fails or times out.
    """
    python = python or ensure_quix_venv()
    if python is None:
        return None
    import tempfile

    state_dir = Path(tempfile.mkdtemp(prefix="quix-peer-state-"))
    group = f"{internal_topic_prefix}peer-quix-{uuid.uuid4().hex[:12]}"
    cmd = [str(python), "-m", "tools.bench.quix_peer", "--bootstrap", bootstrap,
           "--likes-topic", likes_topic, "--gifts-topic", gifts_topic,
           "--cassandra-hosts", ",".join(cassandra_hosts), "--keyspace", keyspace,
           "--window-ms", str(window_ms), "--total-messages", str(total_messages),
           "--flush-every-s", str(flush_every_s), "--group-id", group,
           "--state-dir", str(state_dir), "--internal-topic-prefix", internal_topic_prefix,
           "--rows-per-batch", str(rows_per_batch)]
    if not changelog:
        cmd.append("--no-changelog")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    result: dict | None = None
    internal_topics: list[str] = []
    tail: list[str] = []
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    watchdog = threading.Timer(timeout_s, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, _, rest = line.strip().partition(" ")
            if kind == "progress" and progress:
                progress(int(rest))
            elif kind == "topics":
                internal_topics = json.loads(rest)
            elif kind == "result":
                result = json.loads(rest)
            else:
                tail = (tail + [line.rstrip()])[-40:]
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(state_dir, ignore_errors=True)
        if internal_topics:
            _delete_topics(bootstrap, internal_topics)
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"the Quix peer failed (exit {proc.returncode}; killed after "
                           f"{timeout_s:.0f} s if -9; result {result}):\n" + "\n".join(tail))
    out = PeerResult("quixstreams", result["messages"], result["counted"], result["invalid"],
                     result["duplicates"], result["rows_written"], result["seconds"],
                     result["write_seconds"], result["late_dropped"])
    log.info("Quix Streams peer: %s", out.as_dict())
    return out


def _delete_topics(bootstrap: str, names: list[str]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        existing = set(admin.list_topics())
        if doomed := [n for n in names if n in existing]:
            admin.delete_topics(doomed, timeout_ms=30_000)
    except Exception as exc:  # noqa: BLE001 - leftovers are harmless, say so
        log.warning("could not delete the Quix peer's topics %s: %s", names, exc)
    finally:
        admin.close()
