"""Kafka 4 broker of the local stack: one combined broker/controller in KRaft mode.

Started from the jars ``scripts/setup`` fetched (``org.apache.kafka:kafka_2.13`` and its
runtime dependencies): storage is formatted once with ``kafka.tools.StorageTool``, then
``kafka.Kafka`` runs in the foreground of its own session. Ready means a real round trip:
a message produced with ``acks=all`` to the health topic is consumed back.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.kafka_admin import ensure_topics
from local_stack import java
from local_stack.paths import StackPaths
from local_stack.process import ManagedProcess, StackError
from local_stack.templates import render
from local_stack.tls import self_signed

log = logging.getLogger(__name__)

PORT = 9092
CONTROLLER_PORT = 9093
SECURE_PORT = 9094  # SASL_SSL: SASL PLAIN over TLS (secure_client_properties)
BOOTSTRAP = f"127.0.0.1:{PORT}"
SECURE_BOOTSTRAP = f"127.0.0.1:{SECURE_PORT}"
CLIENT_USER = "live-counters"
HEALTH_TOPIC = "_live_counters_health"
HEAP = "-Xmx768m"


class KafkaService:
    name = "kafka"

    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths
        self.process = ManagedProcess("kafka", paths.run, paths.logs)

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.process]

    @property
    def log_file(self) -> Path:
        return self.paths.logs / "kafka.log"

    def _java(self, main: str, *args: str, log_conf: Path) -> list[str]:
        return [java.java(), HEAP, "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log_conf}",
                "-cp", java.classpath(self.paths.lib("kafka")), main, *args]

    def start(self) -> None:
        if self.process.is_running():
            return
        data, conf = self.paths.data("kafka"), self.paths.conf("kafka")
        tls = tls_material(self.paths)
        server = render("kafka-server.properties", conf, DATA_DIR=data, PORT=PORT,
                        CONTROLLER_PORT=CONTROLLER_PORT, SECURE_PORT=SECURE_PORT,
                        CLIENT_USER=CLIENT_USER, CLIENT_PASSWORD=tls["client_password"],
                        KEYSTORE=tls["keystore"], KEYSTORE_PASSWORD=tls["keystore_password"])
        log_conf = render("kafka-log4j2.properties", conf, LOG_DIR=self.paths.logs)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        if not (data / "meta.properties").exists():
            self.format_storage(new_cluster_id(), server, log_conf)
        self.process.start(self._java("kafka.Kafka", str(server), log_conf=log_conf), env=_env())

    def format_storage(self, cluster_id: str, server: Path, log_conf: Path) -> None:
        """Format the broker's log directories for ``cluster_id`` (once, before the first start).

        The id is passed as ``--cluster-id=<id>``: an id may begin with ``-`` (URL-safe base64
        does, 1 time in 64), which the tool would take for a flag if it came separately.
        """
        data = self.paths.data("kafka")
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
            ensure_topics(BOOTSTRAP, [HEALTH_TOPIC], partitions=1)
            return round_trip(BOOTSTRAP, HEALTH_TOPIC)
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
