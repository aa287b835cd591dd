"""Session fixtures for the test tiers.

Services are reused when they already answer (``KAFKA_BOOTSTRAP``, default 127.0.0.1:9092;
``CASSANDRA_HOSTS``, default 127.0.0.1; the Flink REST API on 127.0.0.1:8081), otherwise the
local stack starts them and stops what it started at the end of the session
(``LIVE_COUNTERS_KEEP_STACK=1`` keeps them running). A service that cannot be reached or
started is an error, never a skip: these tests exist to run against real processes.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator

import pytest

from connectors.kafka_admin import ensure_topics
from local_stack import stack
from local_stack.addresses import CASSANDRA_HOST, FLINK_REST_URL, KAFKA_BOOTSTRAP
from local_stack.cassandra import connect
from local_stack.flink import rest_get
from local_stack.kafka import round_trip
from local_stack.paths import StackPaths

DEFAULT_KAFKA = KAFKA_BOOTSTRAP
DEFAULT_CASSANDRA = CASSANDRA_HOST

logging.getLogger("kafka").setLevel(logging.WARNING)
logging.getLogger("cassandra").setLevel(logging.WARNING)


class _Stack:
    """What the session started, so that it stops only that."""

    def __init__(self) -> None:
        self.paths = StackPaths.from_env()
        self.started: list[str] = []

    def ensure(self, name: str, answers: Callable[[], bool], reusable: bool) -> None:
        try:
            if answers():
                return
        except Exception:  # noqa: BLE001 - not reachable: start it below, if it is ours to start
            pass
        if not reusable:
            raise RuntimeError(f"{name} is configured at a non-default address and does not "
                               "answer; start it or unset the variable to use the local stack")
        stack.up([name], self.paths, progress=lambda m: print(f"[stack] {m}", flush=True))
        self.started.append(name)

    def stop_started(self) -> None:
        if self.started and os.environ.get("LIVE_COUNTERS_KEEP_STACK") != "1":
            stack.down(self.started, self.paths, progress=lambda m: None)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[_Stack]:
    st = _Stack()
    yield st
    st.stop_started()


@pytest.fixture(scope="session")
def kafka_bootstrap(local_stack: _Stack) -> str:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", DEFAULT_KAFKA)

    def answers() -> bool:
        ensure_topics(bootstrap, ["_live_counters_health"], partitions=1)
        return round_trip(bootstrap, "_live_counters_health", timeout_s=5)

    local_stack.ensure("kafka", answers, reusable=bootstrap == DEFAULT_KAFKA)
    return bootstrap


@pytest.fixture(scope="session")
def cassandra_hosts(local_stack: _Stack) -> list[str]:
    hosts = os.environ.get("CASSANDRA_HOSTS", DEFAULT_CASSANDRA).split(",")

    def answers() -> bool:
        with connect(hosts, connect_timeout=3) as session:
            return session.execute("SELECT release_version FROM system.local").one() is not None

    local_stack.ensure("cassandra", answers, reusable=hosts == [DEFAULT_CASSANDRA])
    return hosts


@pytest.fixture(scope="session")
def flink_cluster(local_stack: _Stack) -> str:
    """The REST address of a standalone Flink cluster with free slots."""
    def answers() -> bool:
        return rest_get("/overview", timeout=3)["slots-total"] >= 2

    local_stack.ensure("flink", answers, reusable=True)
    return FLINK_REST_URL


@pytest.fixture(scope="session")
def prometheus(local_stack: _Stack) -> str:
    """The local stack's Prometheus (scraping every Flink process of the stack), with the
    alert rules of deploy/prometheus as they are now."""
    from local_stack import prometheus as prom
    from local_stack.addresses import PROMETHEUS_URL

    def answers() -> bool:
        prom.query("up")
        return True

    local_stack.ensure("prometheus", answers, reusable=True)
    prom.reload()
    return PROMETHEUS_URL


def _unique(request: pytest.FixtureRequest, prefix: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:30]
    return f"{prefix}{name}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def new_topic(request: pytest.FixtureRequest, kafka_bootstrap: str) -> Callable[..., str]:
    """Create a topic of this test's own (name unique per call) and return its name."""
    def make(partitions: int = 2) -> str:
        name = _unique(request, "t.").replace("_", "-")
        ensure_topics(kafka_bootstrap, [name], partitions=partitions)
        return name
    return make


@pytest.fixture
def keyspace(request: pytest.FixtureRequest, cassandra_hosts: list[str]) -> Iterator[str]:
    """A keyspace of this test's own, dropped afterwards."""
    name = _unique(request, "ks_")
    with connect(cassandra_hosts) as session:
        session.execute(f"CREATE KEYSPACE {name} WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    yield name
    with connect(cassandra_hosts) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {name}")
