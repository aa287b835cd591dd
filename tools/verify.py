"""Compare the counter tables with a workload's ground truth, row by row."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from connectors.cassandra_counters import millis_of
from tools.workload import Expected

log = logging.getLogger(__name__)



@dataclass
class Snapshot:
    totals: dict[int, list[int]] = field(default_factory=dict)
    windows: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    gifts: dict[tuple[int, int], list[int]] = field(default_factory=dict)


def snapshot(session, keyspace: str) -> Snapshot:
    """Every row of the three counter tables (a full scan: for test-sized keyspaces), read at
    ALL: a counter increment is applied by one replica (its leader) first and passed on to
    the others after, so until then a read of fewer replicas can miss it (or miss one counted
    twice). A check is trusted only from every replica."""
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    def rows(cql: str):
        return session.execute(SimpleStatement(cql, consistency_level=ConsistencyLevel.ALL,
                                               fetch_size=5000), timeout=60)

    s = Snapshot()
    for r in rows(f"SELECT room_id, likes, gift_count, gift_value, events, duplicates "
                  f"FROM {keyspace}.room_totals"):
        s.totals[r.room_id] = [r.likes or 0, r.gift_count or 0, r.gift_value or 0,
                               r.events or 0, r.duplicates or 0]
    for r in rows(f"SELECT room_id, window_start, likes, gift_count, gift_value "
                  f"FROM {keyspace}.room_windows"):
        s.windows[(r.room_id, millis_of(r.window_start))] = [r.likes or 0, r.gift_count or 0,
                                                       r.gift_value or 0]
    for r in rows(f"SELECT room_id, gift_id, gift_count, gift_value FROM {keyspace}.room_gifts"):
        s.gifts[(r.room_id, r.gift_id)] = [r.gift_count or 0, r.gift_value or 0]
    return s


@dataclass
class Report:
    rooms_checked: int
    rows_checked: int
    rows_wrong: list[str]
    rooms_wrong: int
    events_lost: int          # counted events missing from room_totals.events
    events_double_counted: int

    @property
    def exact(self) -> bool:
        return not self.rows_wrong

    def summary(self) -> str:
        return (f"rooms checked {self.rooms_checked}, rows checked {self.rows_checked}, "
                f"rooms wrong {self.rooms_wrong}, rows wrong {len(self.rows_wrong)}, "
                f"events lost {self.events_lost}, double-counted {self.events_double_counted}")


def compare(expected: Expected, actual: Snapshot) -> Report:
    wrong: list[str] = []
    rooms_wrong: set[int] = set()
    lost = double = 0

    def check(name: str, exp: dict, act: dict, width: int) -> int:
        nonlocal lost, double
        keys = set(exp) | {k for k, v in act.items() if any(v)}
        for k in sorted(keys, key=str):
            e, a = list(exp.get(k, [0] * width)), act.get(k, [0] * width)
            if e != a:
                wrong.append(f"{name}{k}: expected {e}, got {a}")
                rooms_wrong.add(k if isinstance(k, int) else k[0])
                if name == "room_totals":
                    lost += max(0, e[3] - a[3])
                    double += max(0, a[3] - e[3])
        return len(keys)

    rows = check("room_totals", expected.totals, actual.totals, 5)
    rows += check("room_windows", expected.windows, actual.windows, 3)
    rows += check("room_gifts", expected.gifts, actual.gifts, 2)
    return Report(len(expected.totals), rows, wrong, len(rooms_wrong), lost, double)


def digests(values: Iterable[bytes | None]) -> list[str | None]:
    """SHA-256 of each message value (None for a null value): how dead letters are matched
    with what was sent."""
    return [hashlib.sha256(v).hexdigest() if v is not None else None for v in values]


def wait_until_exact(hosts: list[str], keyspace: str, expected: Expected,
                     timeout_s: float = 300, alive: Callable[[], bool] = lambda: True,
                     poll_s: float = 3.0, port: int = 9042) -> Report:
    """Poll the tables until they equal ``expected``; the last report either way (also when
    ``alive()`` turns false)."""
    from cassandra import DriverException, RequestExecutionException
    from cassandra.cluster import NoHostAvailable

    from local_stack.cassandra import connect

    deadline = time.monotonic() + timeout_s
    report: Report | None = None
    with connect(list(hosts), port) as session:
        while True:
            try:
                report = compare(expected, snapshot(session, keyspace))
            except (RequestExecutionException, DriverException, NoHostAvailable) as exc:
                # a replica restarting or a loaded node: the scan is tried again, and only a
                # verdict from a complete read counts
                log.warning("reading %s for the check failed (%s: %s); trying again",
                            keyspace, type(exc).__name__, exc)
                if time.monotonic() > deadline and report is None:
                    raise
            if report is not None and (report.exact or time.monotonic() > deadline
                                       or not alive()):
                return report
            time.sleep(poll_s)


def dead_letter_digests(bootstrap: str, topic: str, expected: int,
                        timeout_s: float = 120) -> list[str]:
    """``value_sha256`` of every committed dead letter on ``topic``, read once ``expected``
    arrived (and for 2 s after, so that extra letters show) or when ``timeout_s`` ran out."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, consumer_timeout_ms=2000,
                             fetch_max_bytes=64 * 1024 * 1024)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            out += [json.loads(m.value)["value_sha256"] for m in consumer]
            if len(out) >= expected:
                out += [json.loads(m.value)["value_sha256"] for m in consumer]
                break
        return out
    finally:
        consumer.close()
