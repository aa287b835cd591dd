"""Shared steps of the counting job's integration tests: names, produce, wait until exact."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass

from jobs.counters.ops.provision import provision
from jobs.counters.settings import Settings
from tools import verify
from tools.verify import Report
from tools.workload import Workload
from tools.workload import produce as produce_workload


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
    return verify.wait_until_exact(list(s.cassandra_hosts), s.keyspace, wl.expected,
                                   timeout_s, alive, port=s.cassandra_port)


def wait_until_committed(s: Settings, timeout_s: float = 120) -> dict[tuple[str, int], int]:
    """Wait until the job's consumer group has committed, on every partition of the event
    topics, the end offset: the Kafka source commits on a completed checkpoint, after it, and
    a checkpoint can complete well after the rows are exact. The committed offsets."""
    from connectors.kafka_admin import end_offsets
    from jobs.counters.start_guard import committed_offsets

    ends = end_offsets(s.bootstrap, [s.likes_topic, s.gifts_topic], s.kafka.kafka_python())
    deadline = time.monotonic() + timeout_s
    while True:
        got = committed_offsets(s)
        if all(got.get(tp, -1) >= end for tp, end in ends.items()):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout_s:.0f} s the group {s.group_id} has committed "
                                 f"{got}, the topics end at {ends}")
        time.sleep(1)


def assert_dead_letters_exact(s: Settings, wl: Workload) -> None:
    """The DLQ (read_committed) holds each invalid message sent, once, and nothing else."""
    want = verify.digests(wl.expected.dead_letters)
    got = verify.dead_letter_digests(s.bootstrap, s.dlq_topic, expected=len(want))
    assert Counter(got) == Counter(want), (
        f"DLQ: {len(got)} letters, {len(want)} invalid messages sent; missing "
        f"{sum((Counter(want) - Counter(got)).values())}, "
        f"extra {sum((Counter(got) - Counter(want)).values())}")
