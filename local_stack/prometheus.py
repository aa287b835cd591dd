"""Prometheus for the local stack: scrapes every Flink process of the stack and evaluates
the alert rules operators copy (``deploy/prometheus/alerts.yml``), so that the tests see
each rule's expression become true against the real job.

The binary is Debian's package, unpacked by ``scripts/setup`` into the stack folder. Ready
means its ``/-/ready`` answers.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

from local_stack import addresses
from local_stack.paths import DEPLOY_DIR, StackPaths
from local_stack.process import ManagedProcess, StackError
from local_stack.templates import render

RULES = DEPLOY_DIR / "prometheus" / "alerts.yml"


class PrometheusService:
    name = "prometheus"

    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths
        self.process = ManagedProcess("prometheus", paths.run, paths.logs)

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.process]

    @property
    def log_file(self) -> Path:
        return self.process.console_log

    @property
    def binary(self) -> Path:
        return self.paths.lib("prometheus") / "usr" / "bin" / "prometheus"

    def start(self) -> None:
        if not self.binary.is_file():
            raise StackError(f"no Prometheus at {self.binary}: run scripts/setup")
        targets = ", ".join(f"{addresses.HOST}:{p}" for p in addresses.METRICS_PORTS)
        conf = render("prometheus.yml", self.paths.conf("prometheus"), RULES=RULES,
                      TARGETS=targets)
        data = self.paths.data("prometheus")
        data.mkdir(parents=True, exist_ok=True)
        self.process.start([str(self.binary), f"--config.file={conf}",
                            f"--storage.tsdb.path={data}", "--storage.tsdb.retention.time=1d",
                            "--web.enable-lifecycle",  # POST /-/reload: the rules again
                            f"--web.listen-address={addresses.HOST}:{addresses.PROMETHEUS_PORT}"])

    def ready(self) -> bool:
        with urllib.request.urlopen(addresses.PROMETHEUS_URL + "/-/ready", timeout=2) as r:
            return r.status == 200


def reload() -> None:
    """Read the configuration and the alert rules again (they may have changed since it
    started)."""
    req = urllib.request.Request(addresses.PROMETHEUS_URL + "/-/reload", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 200:
            raise StackError(f"Prometheus reload: HTTP {r.status}")


def query(expr: str, timeout: float = 5) -> list[dict]:
    """The instant vector ``expr`` evaluates to now (an empty list: false, for an alert)."""
    url = addresses.PROMETHEUS_URL + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise StackError(f"Prometheus query {expr!r}: {body}")
    return body["data"]["result"]
