"""Cassandra 5.0 of the local stack: one node on 127.0.0.1, started from Maven jars.

There is no Cassandra tarball here: ``scripts/setup`` fetched ``cassandra-all`` and its runtime
dependencies, and this module runs ``org.apache.cassandra.service.CassandraDaemon`` on Java 17
with the JVM options Cassandra ships for it (``conf/cassandra-jvm.options``), our own
``cassandra.yaml`` and logback config. Ready means a CQL query answers on 127.0.0.1:9042.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from local_stack import java
from local_stack.paths import StackPaths
from local_stack.process import ManagedProcess, StackError
from local_stack.templates import render

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PORT = 9042
# 2 GiB of heap: memtables get a quarter of it, enough to absorb counter batches from the
# job without flushing constantly, and it leaves most of a 24 GiB box to Flink and Kafka.
HEAP = "2G"


class CassandraService:
    name = "cassandra"

    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths
        self.process = ManagedProcess("cassandra", paths.run, paths.logs)

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.process]

    @property
    def log_file(self) -> Path:
        return self.paths.logs / "cassandra.log"

    def command(self) -> list[str]:
        lib, data, conf = self.paths.lib("cassandra"), self.paths.data("cassandra"), \
            self.paths.conf("cassandra")
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw", "triggers"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        yaml = render("cassandra.yaml", conf, DATA_DIR=data)
        logback = render("logback.xml", conf, LOG_DIR=self.paths.logs)
        jamm = sorted(lib.glob("jamm-*.jar"))
        if not jamm:
            raise StackError(f"jamm agent jar not found in {lib}: run scripts/setup")
        options = render("cassandra-jvm.options", conf, JAMM_JAR=jamm[0]).read_text()
        jvm = [line.strip() for line in options.splitlines() if line.strip().startswith("-")]
        prefix = []
        if os.geteuid() == 0 and shutil.which("setpriv"):
            # Cassandra always calls mlockall(); as root that succeeds and pins the whole heap
            # (seconds more at start, the full heap resident). Without CAP_IPC_LOCK it fails
            # harmlessly with one warning, as it does for any non-root user.
            prefix = ["setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", "--"]
        return [
            *prefix, java.java(), f"-Xms{HEAP}", f"-Xmx{HEAP}", *jvm,
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
            with connect([HOST], connect_timeout=3) as session:
                return session.execute("SELECT release_version FROM system.local"
                                       ).one() is not None
        finally:
            driver_log.setLevel(level)


@contextmanager
def connect(hosts: Sequence[str], port: int = PORT, keyspace: str | None = None,
            connect_timeout: float = 10.0) -> Iterator:
    """A cassandra-driver session, closed (with its cluster) on exit."""
    from connectors.cassandra_sink import connect_cluster

    cluster = connect_cluster(hosts, port, connect_timeout)
    try:
        yield cluster.connect(keyspace)
    finally:
        cluster.shutdown()
