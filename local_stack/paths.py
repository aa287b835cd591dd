"""Where the local stack keeps its files. One place, so scripts, fixtures and jobs agree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackPaths:
    """The cache directory and the folders inside it.

    ``lib/<set>`` holds jars fetched by ``scripts/setup`` (kept by ``stack clean``);
    ``data/<service>``, ``logs/`` and ``run/`` hold what the running services write.
    """

    root: Path

    @classmethod
    def from_env(cls) -> StackPaths:
        return cls(Path(os.environ.get("LIVE_COUNTERS_STACK_DIR", REPO_ROOT / ".stack")).resolve())

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
        """Jars a PyFlink job ships with itself (Kafka connector, Avro)."""
        return sorted(self.lib("flink-connectors").glob("*.jar"))


FLINK_CONF_DIR = REPO_ROOT / "flink-conf"
VENV_DIR = Path(os.environ.get("LIVE_COUNTERS_VENV", REPO_ROOT / ".venv")).resolve()
