"""Cassandra 5.0 of the local stack: one node on 127.0.0.1, started from Maven jars.

A second, secured node can run beside it (``scripts/stack up cassandra-secure``: its own
single-node cluster on port 9142 with ``PasswordAuthenticator``, ``CassandraAuthorizer`` and
client TLS required, a self-signed certificate for 127.0.0.1): what the authentication and
TLS test runs the job against. The replicated profile adds a ring of three nodes,
``cassandra-1``..``cassandra-3`` on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (CQL port 9043,
``RING``), for keyspaces with replication factor 3 read and written at LOCAL_QUORUM.

There is no Cassandra tarball here: ``scripts/setup`` fetched ``cassandra-all`` and its runtime
dependencies, and this module runs ``org.apache.cassandra.service.CassandraDaemon`` on Java 17
with the JVM options Cassandra ships for it (``conf/cassandra-jvm.options``), our own
``cassandra.yaml`` and logback config. Ready means a CQL query answers on 127.0.0.1:9042.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local_stack import addresses, java
from local_stack.paths import StackPaths
from local_stack.process import ManagedProcess, StackError
from local_stack.templates import render
from local_stack.tls import self_signed

log = logging.getLogger(__name__)

HOST = addresses.CASSANDRA_HOST
PORT = addresses.CASSANDRA_PORT
# 2 GiB of heap: memtables get a quarter of it, enough to absorb counter batches from the
# job without flushing constantly, and it leaves most of a 24 GiB box to Flink and Kafka.
HEAP = "2G"
# Cassandra's built-in superuser on a fresh node with PasswordAuthenticator
SUPERUSER = ("cassandra", "cassandra")


@dataclass(frozen=True)
class Node:
    """One local Cassandra node and the cluster it alone forms."""

    name: str                     # of the service, its data, config and log files
    cluster_name: str
    native_port: int = PORT
    storage_port: int = 7000
    jmx_port: int = 7199
    address: str = HOST
    secure: bool = False          # password authentication, authorization, client TLS
    heap: str = HEAP
    seeds: tuple[str, ...] = ()   # addresses of the ring's seeds; () = this node alone
    initial_token: int | None = None  # one token, set; None = 16 random tokens

    @property
    def seed_list(self) -> str:
        return ",".join(f"{a}:{self.storage_port}" for a in (self.seeds or (self.address,)))


LOCAL = Node("cassandra", "live-counters-local")
SECURE = Node("cassandra-secure", "live-counters-secure",
              native_port=addresses.CASSANDRA_SECURE_PORT, storage_port=7100,
              jmx_port=7299, secure=True, heap="1G")

RING_PORT = addresses.CASSANDRA_RING_PORT
RING_HOSTS = addresses.CASSANDRA_RING_HOSTS


def _ring_node(i: int) -> Node:
    """Node ``i`` (0..2) of the replicated profile's ring: every node is a seed and owns one
    of three evenly spaced Murmur3 tokens, so the three start together without a bootstrap
    (and with RF 3 each holds every row anyway)."""
    return Node(f"cassandra-{i + 1}", "live-counters-ring", native_port=RING_PORT,
                storage_port=7010, jmx_port=7401 + i, address=RING_HOSTS[i], heap="1G",
                seeds=RING_HOSTS, initial_token=-2**63 + i * (2**64 // 3))


RING = tuple(_ring_node(i) for i in range(3))


def tls_material(paths: StackPaths, node: Node = SECURE) -> dict[str, str]:
    """The node's key store and its certificate as PEM (``CASSANDRA_SSL_CA`` for clients)."""
    return self_signed(paths.conf(node.name), "cassandra")


class CassandraService:
    def __init__(self, paths: StackPaths, node: Node = LOCAL) -> None:
        self.paths = paths
        self.node = node
        self.name = node.name
        self.process = ManagedProcess(node.name, paths.run, paths.logs)

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.process]

    @property
    def log_file(self) -> Path:
        return self.paths.logs / f"{self.node.name}.log"

    def _client_encryption(self) -> str:
        if not self.node.secure:
            return ""
        tls = tls_material(self.paths, self.node)
        return ("client_encryption_options:\n  enabled: true\n  optional: false\n"
                f"  keystore: {tls['keystore']}\n"
                f"  keystore_password: {tls['keystore_password']}\n"
                "  store_type: PKCS12\n  require_client_auth: false\n")

    def command(self) -> list[str]:
        node = self.node
        lib, data, conf = self.paths.lib("cassandra"), self.paths.data(node.name), \
            self.paths.conf(node.name)
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw", "triggers"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        yaml = render(
            "cassandra.yaml", conf, DATA_DIR=data, CLUSTER_NAME=node.cluster_name,
            ADDRESS=node.address, STORAGE_PORT=node.storage_port, NATIVE_PORT=node.native_port,
            AUTHENTICATOR="PasswordAuthenticator" if node.secure else "AllowAllAuthenticator",
            AUTHORIZER="CassandraAuthorizer" if node.secure else "AllowAllAuthorizer",
            CLIENT_ENCRYPTION=self._client_encryption(), SEEDS=node.seed_list,
            NUM_TOKENS=16 if node.initial_token is None else 1,
            INITIAL_TOKEN="" if node.initial_token is None
            else f"initial_token: {node.initial_token}")
        logback = render("logback.xml", conf, LOG_DIR=self.paths.logs, LOG_NAME=node.name)
        jamm = sorted(lib.glob("jamm-*.jar"))
        if not jamm:
            raise StackError(f"jamm agent jar not found in {lib}: run scripts/setup")
        options = render("cassandra-jvm.options", conf, JAMM_JAR=jamm[0],
                         JMX_PORT=node.jmx_port).read_text()
        jvm = [line.strip() for line in options.splitlines() if line.strip().startswith("-")]
        prefix = []
        if os.geteuid() == 0 and shutil.which("setpriv"):
            # Cassandra always calls mlockall(); as root that succeeds and pins the whole heap
            # (seconds more at start, the full heap resident). Without CAP_IPC_LOCK it fails
            # harmlessly with one warning, as it does for any non-root user.
            prefix = ["setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", "--"]
        return [
            *prefix, java.java(), f"-Xms{node.heap}", f"-Xmx{node.heap}", *jvm,
            f"-XX:HeapDumpPath={self.paths.logs}",
            f"-Dcassandra.config=file://{yaml}",
            f"-Dcassandra.storagedir={data}",
            f"-Dcassandra.logdir={self.paths.logs}",
            f"-Dcassandra.triggers_dir={data / 'triggers'}",
            f"-Dlogback.configurationFile={logback}",
            "-Dcassandra-foreground=yes",
            "-cp", f"{conf}{os.pathsep}{java.classpath(lib)}",
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    def start(self) -> None:
        if self.process.is_running():
            return
        env = dict(os.environ, JAVA_HOME=str(java.java_home()), MALLOC_ARENA_MAX="4")
        self.process.start(self.command(), env=env)

    def ready(self) -> bool:
        # while Cassandra starts, each refused probe would log a traceback at ERROR
        driver_log = logging.getLogger("cassandra.cluster")
        level = driver_log.level
        driver_log.setLevel(logging.CRITICAL)
        try:
            with connect([self.node.address], self.node.native_port, connect_timeout=3,
                         **self.client_options()) as session:
                from cassandra.cluster import NoHostAvailable

                for attempt in range(3):
                    try:
                        return self._answers(session)
                    except NoHostAvailable:  # its pool is still opening: a moment later
                        if attempt == 2:
                            raise
                        time.sleep(0.5)
                return False
        finally:
            driver_log.setLevel(level)

    def _answers(self, session) -> bool:
        # asked of this node, not of whichever node of a ring the driver picks
        host = next(h for h in session.cluster.metadata.all_hosts()
                    if h.address == self.node.address)
        if session.execute("SELECT release_version FROM system.local",
                           host=host).one() is None:
            return False
        # a ring node: it also knows the other nodes (it gossiped with them once)
        peers = session.execute("SELECT peer FROM system.peers_v2", host=host).all()
        return len(peers) >= len(self.node.seeds) - 1

    def client_options(self, user: tuple[str, str] = SUPERUSER) -> dict:
        """``connect`` arguments for this node: credentials and the CA file when secured; for
        the plain node, none, also when the shell exports them for another cluster."""
        if not self.node.secure:
            return {"env": {}}
        return {"credentials": user, "ssl_ca": tls_material(self.paths, self.node)["certificate"]}


@contextmanager
def connect(hosts: Sequence[str], port: int = PORT, keyspace: str | None = None,
            connect_timeout: float = 10.0, credentials: tuple[str, str] | None = None,
            ssl_ca: str | None = None, env: dict[str, str] | None = None) -> Iterator:
    """A cassandra-driver session, closed (with its cluster) on exit; login and TLS as
    ``connectors.cassandra_counters.client_security`` finds them."""
    from connectors.cassandra_counters import connect_cluster

    cluster = connect_cluster(hosts, port, connect_timeout, credentials=credentials,
                              ssl_ca=ssl_ca, env=env)
    try:
        yield cluster.connect(keyspace)
    finally:
        cluster.shutdown()
