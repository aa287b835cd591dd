"""The product's defaults are the local stack's addresses. The product cannot import the
local stack (it is not shipped with the job), so it names its single-node defaults itself;
this holds them to ``local_stack/addresses.py``, where every local address lives."""

from __future__ import annotations

import inspect

import pytest

from connectors.producer import CounterProducer
from jobs import runtime
from jobs.counters.ops import watch
from jobs.counters.settings import Settings
from local_stack import addresses

pytestmark = pytest.mark.unit


def test_the_jobs_defaults_are_the_local_single_node_stack():
    s = Settings()
    assert s.bootstrap == addresses.KAFKA_BOOTSTRAP
    assert s.cassandra_hosts == (addresses.CASSANDRA_HOST,)
    assert s.cassandra_port == addresses.CASSANDRA_PORT


def test_the_producer_library_defaults_to_the_local_broker():
    default = inspect.signature(CounterProducer).parameters["bootstrap_servers"].default
    assert default == addresses.KAFKA_BOOTSTRAP


def test_watch_scrapes_the_local_metrics_ports():
    assert watch.DEFAULT_ENDPOINTS == [f"{addresses.HOST}:{p}" for p in addresses.METRICS_PORTS]


def test_an_embedded_run_takes_a_rest_port_of_the_local_embedded_range():
    ports = addresses.EMBEDDED_REST_PORTS
    assert runtime.EMBEDDED_REST_PORTS == f"{ports[0]}-{ports[-1]}"
    assert addresses.FLINK_REST_PORT not in ports


def test_flink_conf_serves_metrics_on_the_local_metrics_ports():
    conf = runtime.flink_conf()
    ports = addresses.METRICS_PORTS
    assert conf["metrics.reporter.prom.port"] == f"{ports[0]}-{ports[-1]}"
