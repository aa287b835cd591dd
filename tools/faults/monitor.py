"""What a fault run sees of the job from outside: the events counted in Cassandra over time
(for recovery times) and the job's restarts."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from local_stack.flink import (
    job_restarts,
)

log = logging.getLogger(__name__)


@dataclass
class Monitor:
    """Samples what the job has counted, from outside: the sum of ``room_totals.events``
    (every 0.5 s) and the current job's restarts (every 2 s, ``job_restarts``)."""

    hosts: list[str]
    keyspace: str
    job_ids: Callable[[], list[str]]
    port: int = 9042
    samples: list[tuple[float, int]] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)  # failed samples, by exception type

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # (not started when the run failed before counting)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        from cassandra import ConsistencyLevel
        from cassandra.query import SimpleStatement

        from connectors.cassandra_counters import connect_cluster

        cluster = session = None
        # read as the sink writes: a quorum of replicas (one node of a ring may be down)
        query = SimpleStatement(f"SELECT events FROM {self.keyspace}.room_totals",
                                consistency_level=ConsistencyLevel.LOCAL_QUORUM)
        last_rest = 0.0
        try:
            while not self._stop.is_set():
                t = time.monotonic()
                try:
                    if session is None:  # (again) after Cassandra was down
                        if cluster is not None:
                            cluster.shutdown()
                        cluster = connect_cluster(self.hosts, self.port, connect_timeout=2)
                        session = cluster.connect()
                    total = sum(r.events or 0 for r in session.execute(query, timeout=5))
                    self.samples.append((t, total))
                except Exception as exc:  # noqa: BLE001 - Cassandra paused or down: a gap in the samples
                    # (a session reconnects by itself; a failed connect shut its cluster down)
                    self.errors[type(exc).__name__] += 1
                    log.debug("monitor: %s", exc)
                if t - last_rest >= 2:
                    last_rest = t
                    self._poll_restarts()
                self._stop.wait(max(0.0, 0.5 - (time.monotonic() - t)))
        finally:
            if cluster is not None:
                cluster.shutdown()

    def _poll_restarts(self, timeout: float = 2) -> bool:
        ids = self.job_ids()
        if not ids:
            return False
        try:
            n = job_restarts(ids[-1], timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - the JobManager is down, restarting or busy
            log.debug("monitor: restarts: %s", exc)
            return False
        if n is None:
            return False
        self.restarts[ids[-1]] = max(self.restarts.get(ids[-1], 0), n)
        return True

    def final_restarts(self, attempts: int = 10) -> None:
        """Read the current job's restart count until the metric store answers (its first
        answer after a while is often empty), with a patient timeout."""
        for _ in range(attempts):
            if self._poll_restarts(timeout=10):
                return
            time.sleep(1)

    def counted(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def moving_after(self, t0: float) -> bool:
        """Did the count grow after ``t0`` (above the last sample taken before it)?"""
        before = [v for t, v in self.samples if t < t0]
        base = before[-1] if before else None
        after = [v for t, v in self.samples if t >= t0]
        if base is None:
            return len(after) >= 2 and after[-1] > after[0]
        return bool(after) and after[-1] > base

    def wait_moving(self, after: float, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.moving_after(after):
                return True
            time.sleep(0.25)
        return False


def thin(samples: list[tuple[float, int]], t0: float, every_s: float) -> list[tuple[float, int]]:
    """One sample per ``every_s`` seconds, times relative to ``t0``."""
    out: list[tuple[float, int]] = []
    for t, v in samples:
        if not out or t - t0 - out[-1][0] >= every_s:
            out.append((round(t - t0, 1), v))
    return out
