"""The local stack's configuration templates (``local_stack/conf/``) render what the
services rely on, and each is shipped."""

from __future__ import annotations

import pytest

from local_stack.templates import CONF_DIR, render

pytestmark = pytest.mark.unit


def test_render_fills_every_token(tmp_path):
    out = render("kafka-server.properties", tmp_path, DATA_DIR="/d", PORT=1, CONTROLLER_PORT=2,
                 SECURE_PORT=3, CLIENT_USER="u", CLIENT_PASSWORD="p", KEYSTORE="/k.p12",
                 KEYSTORE_PASSWORD="kp", NODE_ID=1, VOTERS="1@127.0.0.1:2", REPLICATION=1,
                 MIN_ISR=1)
    text = out.read_text()
    assert "log.dirs=/d" in text and "127.0.0.1:1" in text and "@" not in text.replace("1@", "")
    assert "SASL_SSL://127.0.0.1:3" in text and 'user_u="p"' in text
    assert "node.id=1\ncontroller.quorum.voters=1@127.0.0.1:2\n" in text


def test_the_replicated_brokers_render_one_quorum_and_replicated_internal_topics(tmp_path):
    from local_stack.kafka import REPLICATED, KafkaService
    from local_stack.paths import StackPaths

    texts = [KafkaService(StackPaths(tmp_path), b).render_config()[0].read_text()
             for b in REPLICATED]
    voters = "controller.quorum.voters=1@127.0.0.1:9193,2@127.0.0.1:9293,3@127.0.0.1:9393"
    for n, text in enumerate(texts, start=1):
        assert f"node.id={n}\n" in text and voters in text
        assert f"PLAINTEXT://127.0.0.1:{9092 + 100 * n}," in text
        for key in ("default.replication.factor", "offsets.topic.replication.factor",
                    "transaction.state.log.replication.factor"):
            assert f"{key}=3\n" in text
        for key in ("min.insync.replicas", "transaction.state.log.min.isr"):
            assert f"{key}=2\n" in text


def test_render_refuses_a_missing_value(tmp_path):
    with pytest.raises(ValueError, match="CONTROLLER_PORT"):
        render("kafka-server.properties", tmp_path, DATA_DIR="/d", PORT=1)


def test_every_template_is_shipped():
    assert {p.name for p in CONF_DIR.iterdir()} >= {
        "kafka-server.properties", "kafka-log4j2.properties", "cassandra.yaml", "logback.xml",
        "cassandra-jvm.options"}
