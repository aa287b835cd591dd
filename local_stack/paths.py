"""Where the local stack keeps its files. One place, so scripts, fixtures and jobs agree.

The cache directory and ``flink-conf/`` are the job's own (``jobs/runtime.py``): an embedded
job run finds its jars and writes its checkpoints there without importing the local stack.
``deploy/`` holds what operators deploy beside the job (Kubernetes, Prometheus, Grafana)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from jobs.runtime import FLINK_CONF_DIR, REPO_ROOT, connector_jars, stack_dir

__all__ = ["DEPLOY_DIR", "FLINK_CONF_DIR", "REPO_ROOT", "VENV_DIR", "StackPaths"]


@dataclass(frozen=True)
class StackPaths:
    """The cache directory and the folders inside it.

    ``lib/<set>`` holds jars fetched by ``scripts/setup`` (kept by ``stack clean``);
    ``data/<service>``, ``logs/`` and ``run/`` hold what the running services write.
    """

    root: Path

    @classmethod
    def from_env(cls) -> StackPaths:
        return cls(stack_dir())

    def lib(self, artifact_set: str) -> Path:
        return self.root / "lib" / artifact_set

    def data(self, service: str) -> Path:
        return self.root / "data" / service

    def conf(self, service: str) -> Path:
        return self.root / "conf" / service

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def checkpoints(self) -> Path:
        return self.data("flink") / "checkpoints"

    @property
    def savepoints(self) -> Path:
        return self.data("flink") / "savepoints"

    @property
    def connector_jars(self) -> list[Path]:
        """Jars a PyFlink job ships with itself (Kafka connector): the job's own lookup
        (``jobs.runtime.connector_jars``), which reads the same directory."""
        return connector_jars(self.root)


VENV_DIR = Path(os.environ.get("LIVE_COUNTERS_VENV", REPO_ROOT / ".venv")).resolve()

# what operators deploy beside the job: the image and manifest, alert rules, the dashboard
DEPLOY_DIR = REPO_ROOT / "deploy"
