"""Bring the local stack's services up and down, and say what runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from local_stack.cassandra import RING, SECURE, CassandraService
from local_stack.flink import FlinkService, SecondTaskManager
from local_stack.kafka import REPLICATED as BROKERS
from local_stack.kafka import KafkaService
from local_stack.paths import StackPaths
from local_stack.process import ManagedProcess, StackError, stop_together, wait_until
from local_stack.profiles import REPLICATED
from local_stack.prometheus import PrometheusService

log = logging.getLogger(__name__)

ALL = ("kafka", "cassandra", "flink")
DEFAULT = ("kafka", "cassandra")
# started only by name: a second Cassandra with password authentication and client TLS, the
# replicated profile's brokers, Cassandra ring and second TaskManager (local_stack.profiles),
# and Prometheus with the alert rules
OPTIONAL = ("cassandra-secure", *(s for s in REPLICATED.services if s not in ALL),
            "prometheus")
# started in this order
ORDER = ("kafka", *(b.name for b in BROKERS), "cassandra", "cassandra-secure",
         *(n.name for n in RING), "flink", "taskmanager-2", "prometheus")
# stopped at once (a KRaft quorum: the last broker stopped alone waits for the others)
TOGETHER = tuple(b.name for b in BROKERS)
READY_TIMEOUT_S = {"kafka": 90.0, "cassandra": 240.0, "cassandra-secure": 240.0,
                   "flink": 120.0, "taskmanager-2": 120.0, "prometheus": 60.0,
                   **{b.name: 180.0 for b in BROKERS}, **{n.name: 360.0 for n in RING}}

Progress = Callable[[str], None]


class Service(Protocol):
    name: str
    processes: list[ManagedProcess]
    log_file: object

    def start(self) -> None: ...

    def ready(self) -> bool: ...


def services(paths: StackPaths) -> dict[str, Service]:
    return {"kafka": KafkaService(paths), "cassandra": CassandraService(paths),
            "cassandra-secure": CassandraService(paths, SECURE), "flink": FlinkService(paths),
            "taskmanager-2": SecondTaskManager(paths), "prometheus": PrometheusService(paths),
            **{b.name: KafkaService(paths, b) for b in BROKERS},
            **{n.name: CassandraService(paths, n) for n in RING}}


def _check(names: Iterable[str]) -> list[str]:
    names = list(names)
    unknown = [n for n in names if n not in ORDER]
    if unknown:
        raise StackError(f"unknown service(s) {unknown}; known: {', '.join(ORDER)}")
    return names


def up(names: Iterable[str] = DEFAULT, paths: StackPaths | None = None,
       progress: Progress = print) -> dict[str, float]:
    """Start the named services (those not running yet) and wait until each is ready.

    Returns the seconds each took to become ready. Starting a running service is harmless.
    """
    paths = paths or StackPaths.from_env()
    names = set(_check(names))
    if "taskmanager-2" in names:  # it joins the JobManager
        names.add("flink")
    names = [n for n in ORDER if n in names]
    chosen = [services(paths)[n] for n in names]
    started = []
    for svc in chosen:
        if all(p.is_running() for p in svc.processes):
            continue
        progress(f"starting {svc.name}")
        svc.start()
        started.append(svc.name)
    took: dict[str, float] = {}
    t0 = time.monotonic()
    for svc in chosen:
        wait_until(svc.ready, what=svc.name, timeout=READY_TIMEOUT_S[svc.name],
                   processes=svc.processes, log_file=svc.log_file, progress=progress)
        took[svc.name] = time.monotonic() - t0
        state = "ready" if svc.name in started else "already running, ready"
        progress(f"{svc.name}: {state} ({took[svc.name]:.1f}s)")
    return took


def down(names: Iterable[str] = ORDER, paths: StackPaths | None = None,
         progress: Progress = print) -> None:
    """Stop the named services (Flink first, Kafka last), each by its PID file."""
    paths = paths or StackPaths.from_env()
    svcs = services(paths)
    chosen = [n for n in ORDER if n in _check(names)]
    together = [n for n in chosen if n in TOGETHER]  # the replicated brokers: one quorum
    for name in reversed(chosen):
        if name in together:
            if name == together[-1]:
                for stopped in stop_together([svcs[n].processes[0] for n in together]):
                    progress(f"stopped {stopped}")
            continue
        for proc in reversed(svcs[name].processes):
            if proc.stop():
                progress(f"stopped {proc.name}")


@dataclass(frozen=True)
class ProcessStatus:
    service: str
    process: str
    pid: int | None
    rss_bytes: int | None
    ready: bool | None


def status(paths: StackPaths | None = None) -> list[ProcessStatus]:
    paths = paths or StackPaths.from_env()
    rows = []
    for name, svc in services(paths).items():
        running = all(p.is_running() for p in svc.processes)
        if name in OPTIONAL and not running:
            continue  # started only by name: listed while it runs
        ready = None
        if running:
            try:
                ready = bool(svc.ready())
            except Exception:  # noqa: BLE001 - reachable or not is what we report
                ready = False
        for proc in svc.processes:
            rows.append(ProcessStatus(name, proc.name, proc.pid(), proc.rss_bytes(), ready))
    return rows
