"""Shared steps of the counting job's integration tests: names, produce, wait until exact."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from jobs.counters.provision import provision
from jobs.counters.settings import Settings
from jobs.counters.verify import Report, compare, snapshot
from jobs.counters.workload import Workload
from jobs.counters.workload import produce as produce_workload
from local_stack.cassandra import connect


@dataclass(frozen=True)
class JobNames:
    suffix: str

    @classmethod
    def fresh(cls) -> JobNames:
        return cls(uuid.uuid4().hex[:10])

    def args(self, bootstrap: str, hosts: list[str]) -> list[str]:
        s = self.suffix
        return ["--bootstrap", bootstrap, "--cassandra-hosts", ",".join(hosts),
                "--likes-topic", f"likes.{s}", "--gifts-topic", f"gifts.{s}",
                "--dlq-topic", f"dlq.{s}", "--group-id", f"counters-{s}",
                "--keyspace", f"lc_{s}"]

    def settings(self, bootstrap: str, hosts: list[str]) -> Settings:
        return Settings.parse(self.args(bootstrap, hosts))


def provision_for(names: JobNames, bootstrap: str, hosts: list[str]) -> Settings:
    s = names.settings(bootstrap, hosts)
    provision(s)
    return s


def produce(s: Settings, wl: Workload) -> None:
    produce_workload(wl, s.bootstrap, s.likes_topic, s.gifts_topic)


def wait_until_exact(s: Settings, wl: Workload, timeout_s: float = 300,
                     alive=lambda: True) -> Report:
    """Poll the tables until they equal the ground truth; the last report either way."""
    deadline = time.monotonic() + timeout_s
    with connect(list(s.cassandra_hosts)) as session:
        while True:
            report = compare(wl.expected, snapshot(session, s.keyspace))
            if report.exact or time.monotonic() > deadline or not alive():
                return report
            time.sleep(3)


def dead_letters(s: Settings, expected: int, timeout_s: float = 120) -> list[bytes]:
    """The committed dead letters' original values, once ``expected`` arrived (or timeout)."""
    import base64
    import json

    consumer = KafkaConsumer(bootstrap_servers=s.bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, consumer_timeout_ms=2000)
    parts = [TopicPartition(s.dlq_topic, p)
             for p in consumer.partitions_for_topic(s.dlq_topic) or ()]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    def original(msg) -> bytes:
        return base64.b64decode(json.loads(msg.value)["value"] or "")

    out: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            out += [original(m) for m in consumer]
            if len(out) >= expected:
                out += [original(m) for m in consumer]  # and nothing more arrives after them
                break
        return out
    finally:
        consumer.close()
