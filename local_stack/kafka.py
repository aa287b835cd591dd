"""Kafka 4 brokers of the local stack, each a combined broker/controller in KRaft mode.

The stack's broker (``kafka``, 127.0.0.1:9092) is a cluster of its own. The replicated
profile runs three more (``kafka-1``..``kafka-3`` on 9192, 9292, 9392, ``REPLICATED``): one
cluster whose three controllers form the KRaft quorum, every topic with 3 replicas and
``min.insync.replicas=2``, so that it keeps taking ``acks=all`` writes with one broker lost.

Started from the jars ``scripts/setup`` fetched (``org.apache.kafka:kafka_2.13`` and its
runtime dependencies): storage is formatted once with ``kafka.tools.StorageTool``, then
``kafka.Kafka`` runs in the foreground of its own session. Ready means the broker lists
itself in the cluster's metadata and a real round trip works: a message produced with
``acks=all`` to the health topic is consumed back.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.kafka_admin import ensure_topics
from local_stack import addresses, java
from local_stack.paths import StackPaths
from local_stack.process import ManagedProcess, StackError
from local_stack.templates import render
from local_stack.tls import self_signed

log = logging.getLogger(__name__)

PORT = addresses.KAFKA_PORT
CONTROLLER_PORT = addresses.KAFKA_CONTROLLER_PORT
SECURE_PORT = addresses.KAFKA_SECURE_PORT  # SASL PLAIN over TLS (secure_client_properties)
BOOTSTRAP = addresses.KAFKA_BOOTSTRAP
SECURE_BOOTSTRAP = addresses.KAFKA_SECURE_BOOTSTRAP
CLIENT_USER = "live-counters"
HEALTH_TOPIC = "_live_counters_health"
HEAP = "-Xmx768m"


@dataclass(frozen=True)
class Broker:
    """One local broker (also a controller) and the cluster it belongs to."""

    name: str                    # of the service, its data, config and log files
    cluster: str                 # brokers of one cluster share its id (``conf/<cluster>``)
    node_id: int = 1
    port: int = PORT
    controller_port: int = CONTROLLER_PORT
    secure_port: int = SECURE_PORT
    voters: tuple[tuple[int, int], ...] = ((1, CONTROLLER_PORT),)  # (node id, controller port)
    replication: int = 1         # of every topic the broker creates (internal topics too)
    min_isr: int = 1             # min.insync.replicas

    @property
    def bootstrap(self) -> str:
        return addresses.kafka_address(self.port)


SINGLE = Broker("kafka", "kafka")


def _replicated(n: int) -> Broker:
    """Broker ``n`` (1..3) of the replicated profile: its ports are 9092 + 100 n and up."""
    base = PORT + 100 * n
    return Broker(f"kafka-{n}", "kafka-replicated", node_id=n, port=base,
                  controller_port=base + 1, secure_port=base + 2,
                  voters=tuple((i, PORT + 100 * i + 1) for i in (1, 2, 3)),
                  replication=3, min_isr=2)


REPLICATED = tuple(_replicated(n) for n in (1, 2, 3))
REPLICATED_BOOTSTRAP = ",".join(b.bootstrap for b in REPLICATED)


class KafkaService:
    def __init__(self, paths: StackPaths, broker: Broker = SINGLE) -> None:
        self.paths = paths
        self.broker = broker
        self.name = broker.name
        self.process = ManagedProcess(broker.name, paths.run, paths.logs)

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.process]

    @property
    def log_file(self) -> Path:
        return self.paths.logs / f"{self.broker.name}.log"

    def _java(self, main: str, *args: str, log_conf: Path) -> list[str]:
        return [java.java(), HEAP, "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log_conf}",
                "-cp", java.classpath(self.paths.lib("kafka")), main, *args]

    def render_config(self) -> tuple[Path, Path]:
        """The broker's server.properties and log4j2 configuration, written to its conf dir."""
        b = self.broker
        conf = self.paths.conf(b.name)
        tls = tls_material(self.paths)
        server = render("kafka-server.properties", conf, DATA_DIR=self.paths.data(b.name),
                        NODE_ID=b.node_id, PORT=b.port, CONTROLLER_PORT=b.controller_port,
                        SECURE_PORT=b.secure_port,
                        VOTERS=",".join(f"{i}@{addresses.kafka_address(p)}" for i, p in b.voters),
                        REPLICATION=b.replication, MIN_ISR=b.min_isr,
                        CLIENT_USER=CLIENT_USER, CLIENT_PASSWORD=tls["client_password"],
                        KEYSTORE=tls["keystore"], KEYSTORE_PASSWORD=tls["keystore_password"])
        log_conf = render("kafka-log4j2.properties", conf, LOG_DIR=self.paths.logs,
                          LOG_NAME=b.name)
        return server, log_conf

    def start(self) -> None:
        if self.process.is_running():
            return
        server, log_conf = self.render_config()
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        if not (self.paths.data(self.broker.name) / "meta.properties").exists():
            self.format_storage(self.cluster_id(), server, log_conf)
        self.process.start(self._java("kafka.Kafka", str(server), log_conf=log_conf), env=_env())

    def cluster_id(self) -> str:
        """The id of the broker's cluster: made once, then read by each of its brokers."""
        if len(self.broker.voters) == 1:
            return new_cluster_id()
        f = self.paths.conf(self.broker.cluster) / "cluster-id"
        if not f.is_file():
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(f".{os.getpid()}")
            tmp.write_text(new_cluster_id())
            tmp.replace(f)
        return f.read_text().strip()

    def format_storage(self, cluster_id: str, server: Path, log_conf: Path) -> None:
        """Format the broker's log directories for ``cluster_id`` (once, before the first start).

        The id is passed as ``--cluster-id=<id>``: an id may begin with ``-`` (URL-safe base64
        does, 1 time in 64), which the tool would take for a flag if it came separately.
        """
        data = self.paths.data(self.broker.name)
        data.mkdir(parents=True, exist_ok=True)
        cmd = self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                         "--config", str(server), "--ignore-formatted", log_conf=log_conf)
        res = subprocess.run(cmd, capture_output=True, text=True, env=_env())
        if res.returncode != 0:
            raise StackError(f"formatting Kafka storage in {data} failed:\n"
                             f"{res.stdout}{res.stderr}")

    def ready(self) -> bool:
        # while the broker starts, kafka-python logs every refused connection at ERROR: a
        # probe that fails is the expected answer here, not an error to show
        client_log = logging.getLogger("kafka")
        level = client_log.level
        client_log.setLevel(logging.CRITICAL)
        try:
            b = self.broker
            if len(b.voters) > 1 and not registered(b.bootstrap, b.node_id):
                return False
            ensure_topics(b.bootstrap, [HEALTH_TOPIC], partitions=1, replication=b.replication)
            return round_trip(b.bootstrap, HEALTH_TOPIC)
        finally:
            client_log.setLevel(level)


def tls_material(paths: StackPaths) -> dict[str, str]:
    """The secured listener's key store, its certificate as PEM (the clients' trust store)
    and the passwords (``local_stack.tls``)."""
    return self_signed(paths.conf("kafka"), "broker", "client_password")


def secure_client_properties(paths: StackPaths) -> Path:
    """A Kafka client properties file (``--kafka-config``) for the secured listener."""
    tls = tls_material(paths)
    out = paths.conf("kafka") / "client-sasl-ssl.properties"
    out.write_text("security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n"
                   "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
                   f'required username="{CLIENT_USER}" password="{tls["client_password"]}";\n'
                   f"ssl.truststore.type=PEM\nssl.truststore.location={tls['certificate']}\n")
    out.chmod(0o600)
    return out


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, as Kafka's own
    ``Uuid.randomUuid`` makes them (which, like this, never returns one that begins with
    ``-``, so that other command-line tools given the id do not take it for a flag)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["JAVA_HOME"] = str(java.java_home())
    return env


def registered(bootstrap: str, node_id: int) -> bool:
    """Does the cluster's metadata, as the broker at ``bootstrap`` serves it, list ``node_id``
    (registered with the controllers and not fenced)?"""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        return any(b["broker_id"] == node_id and not b.get("is_fenced")
                   for b in admin.describe_cluster()["brokers"])
    finally:
        admin.close()


def round_trip(bootstrap: str, topic: str, timeout_s: float = 10.0) -> bool:
    """Produce one message with acks=all and read it back from its offset."""
    token = uuid.uuid4().hex.encode()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        meta = producer.send(topic, token).get(timeout=timeout_s)
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=int(timeout_s * 1000))
    try:
        tp = TopicPartition(topic, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        return any(msg.value == token for msg in consumer)
    finally:
        consumer.close()
