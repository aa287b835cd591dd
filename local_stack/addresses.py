"""Every address of the local stack, in one place: the hosts and ports its services listen
on, and where the tooling and the tests find them.

The product cannot import the local stack, so its defaults (``jobs/counters/settings.py``,
``jobs/counters/ops/watch.py``, ``jobs/runtime.py``, ``connectors/producer.py``) name the
single-node addresses themselves; ``tests/unit/local_stack/test_addresses.py`` holds them to
these.
"""

from __future__ import annotations

HOST = "127.0.0.1"

# Kafka: the single-node profile's broker; the replicated profile's brokers n = 1..3 use
# KAFKA_PORT + 100 n and up (local_stack/kafka.py)
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093
KAFKA_SECURE_PORT = 9094  # SASL_SSL
KAFKA_BOOTSTRAP = f"{HOST}:{KAFKA_PORT}"
KAFKA_SECURE_BOOTSTRAP = f"{HOST}:{KAFKA_SECURE_PORT}"

# Cassandra: the single node, the secured node, and the replicated profile's ring
CASSANDRA_HOST = HOST
CASSANDRA_PORT = 9042
CASSANDRA_SECURE_PORT = 9142
CASSANDRA_RING_HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
CASSANDRA_RING_PORT = 9043

# Flink: the standalone cluster's REST API; an embedded mini-cluster takes the first free
# port of EMBEDDED_REST_PORTS (never the standalone one); the Prometheus reporter of each
# Flink process the first free port of METRICS_PORTS (flink-conf/config.yaml)
FLINK_REST_PORT = 8081
FLINK_REST_URL = f"http://{HOST}:{FLINK_REST_PORT}"
EMBEDDED_REST_PORTS = range(8082, 8200)
METRICS_PORTS = range(9249, 9260)

# Prometheus (an optional service of the stack: it evaluates deploy/prometheus's alerts)
PROMETHEUS_PORT = 9090
PROMETHEUS_URL = f"http://{HOST}:{PROMETHEUS_PORT}"


def kafka_address(port: int) -> str:
    """``host:port`` of a local broker listening on ``port``."""
    return f"{HOST}:{port}"
