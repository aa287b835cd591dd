"""Formatting the local Kafka's storage with the real StorageTool (Java, the fetched jars)."""

from __future__ import annotations

import re

import pytest

from local_stack.kafka import CLIENT_USER, KafkaService, new_cluster_id, tls_material
from local_stack.paths import StackPaths
from local_stack.templates import render

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("cluster_id", ["-7bXvJ2aQ0uq3mX5YxJkGQ", "Ab-_cdEFghIJklMNopQRsA"])
def test_storage_formats_with_any_cluster_id(tmp_path, cluster_id):
    """A cluster id that begins with '-' (URL-safe base64 does, 1 time in 64) is not taken
    for a flag: the first scripts/demo on a fresh machine once failed exactly so."""
    real = StackPaths.from_env()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "kafka").symlink_to(real.lib("kafka"))
    paths = StackPaths(tmp_path)
    svc = KafkaService(paths)
    conf = paths.conf("kafka")
    tls = tls_material(paths)
    server = render("kafka-server.properties", conf, DATA_DIR=paths.data("kafka"), PORT=19092,
                    CONTROLLER_PORT=19093, SECURE_PORT=19094, CLIENT_USER=CLIENT_USER,
                    CLIENT_PASSWORD=tls["client_password"], KEYSTORE=tls["keystore"],
                    KEYSTORE_PASSWORD=tls["keystore_password"], NODE_ID=1,
                    VOTERS="1@127.0.0.1:19093", REPLICATION=1, MIN_ISR=1)
    log_conf = render("kafka-log4j2.properties", conf, LOG_DIR=paths.logs, LOG_NAME="kafka")
    paths.logs.mkdir(parents=True, exist_ok=True)
    svc.format_storage(cluster_id, server, log_conf)
    meta = (paths.data("kafka") / "meta.properties").read_text()
    assert re.search(rf"^cluster\.id={re.escape(cluster_id)}$", meta, re.M), meta


def test_new_cluster_ids_never_begin_with_a_dash():
    ids = [new_cluster_id() for _ in range(5000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)
