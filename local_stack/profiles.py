"""The local stack's two profiles: which services make up a Kafka, a Cassandra and a Flink
cluster, and the settings a job and ``scripts/provision`` use against them.

- ``single``: one broker (127.0.0.1:9092), one Cassandra node (127.0.0.1:9042, RF 1), one
  TaskManager: what the README's commands, the tests and the benchmarks run on.
- ``replicated`` (``scripts/stack up --replicated``): three brokers (9192, 9292, 9392;
  every topic with 3 replicas, ``min.insync.replicas=2``), a ring of three Cassandra nodes
  (127.0.0.1-3, CQL port 9043; keyspace RF 3, the sink and the verifier at LOCAL_QUORUM) and a
  second TaskManager: each loses one member without stopping. It runs beside ``single``
  (other ports), sharing its Flink JobManager.
"""

from __future__ import annotations

from dataclasses import dataclass

from local_stack.addresses import CASSANDRA_HOST
from local_stack.cassandra import PORT as CASSANDRA_PORT
from local_stack.cassandra import RING, RING_HOSTS, RING_PORT
from local_stack.kafka import BOOTSTRAP, REPLICATED_BOOTSTRAP
from local_stack.kafka import REPLICATED as BROKERS


@dataclass(frozen=True)
class Profile:
    name: str
    services: tuple[str, ...]          # of local_stack.stack, in the order they start
    brokers: tuple[str, ...]           # the services that are Kafka brokers
    cassandra_nodes: tuple[str, ...]   # the services that are Cassandra nodes
    taskmanagers: tuple[str, ...]      # the services with a TaskManager process
    bootstrap: str
    cassandra_hosts: tuple[str, ...]
    cassandra_port: int
    replication_factor: int            # of the topics provisioned on it
    min_insync_replicas: int | None    # of those topics (None: the broker's)
    keyspace_replication: str          # the job's --replication

    def job_args(self) -> list[str]:
        """The settings flags that point the job (and provisioning) at this profile."""
        return ["--bootstrap", self.bootstrap,
                "--cassandra-hosts", ",".join(self.cassandra_hosts),
                "--cassandra-port", str(self.cassandra_port),
                "--replication", self.keyspace_replication]

    def provision_args(self) -> list[str]:
        """``scripts/provision`` flags for this profile (besides ``job_args``)."""
        isr = ([] if self.min_insync_replicas is None
               else ["--min-insync-replicas", str(self.min_insync_replicas)])
        return ["--replication-factor", str(self.replication_factor), *isr]


SINGLE = Profile(
    "single", ("kafka", "cassandra", "flink"), ("kafka",), ("cassandra",), ("flink",),
    BOOTSTRAP, (CASSANDRA_HOST,), CASSANDRA_PORT, 1, None, "SimpleStrategy:replication_factor=1")

REPLICATED = Profile(
    "replicated",
    (*(b.name for b in BROKERS), *(n.name for n in RING), "flink", "taskmanager-2"),
    tuple(b.name for b in BROKERS), tuple(n.name for n in RING), ("flink", "taskmanager-2"),
    REPLICATED_BOOTSTRAP, RING_HOSTS, RING_PORT, 3, 2, "SimpleStrategy:replication_factor=3")

PROFILES = {p.name: p for p in (SINGLE, REPLICATED)}
