"""The configuration files the stack and the jobs rely on say what the docs promise."""

from __future__ import annotations

import pytest
import yaml

from local_stack.paths import FLINK_CONF_DIR
from local_stack.templates import CONF_DIR, render

pytestmark = pytest.mark.unit


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flat(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


@pytest.fixture(scope="module")
def flink_conf() -> dict:
    return _flat(yaml.safe_load((FLINK_CONF_DIR / "config.yaml").read_text()))


@pytest.mark.parametrize(("key", "expected"), [
    ("execution.checkpointing.mode", "EXACTLY_ONCE"),
    ("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"),
    ("taskmanager.numberOfTaskSlots", 2),
    ("rest.bind-address", "127.0.0.1"),
    ("rest.port", 8081),
    ("jobmanager.bind-host", "127.0.0.1"),
    ("taskmanager.bind-host", "127.0.0.1"),
])
def test_flink_conf(flink_conf, key, expected):
    assert flink_conf[key] == expected


def test_flink_conf_has_a_checkpoint_interval_and_no_machine_paths(flink_conf):
    assert flink_conf["execution.checkpointing.interval"]
    assert "execution.checkpointing.dir" not in flink_conf  # passed by the scripts (-D)


def test_flink_conf_dir_has_the_log_configs_flinks_scripts_expect():
    for name in ("log4j-console.properties", "log4j-cli.properties", "log4j.properties"):
        assert (FLINK_CONF_DIR / name).is_file()


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


def test_documented_worker_dependencies_are_the_packages_dependencies():
    """docs/cluster.md's pip line for a cluster's Python workers names every dependency of the
    package (a worker without fastavro could not decode a single event)."""
    import re
    import shlex
    import tomllib

    from local_stack.paths import REPO_ROOT

    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    page = (REPO_ROOT / "docs" / "cluster.md").read_text()
    line = re.search(r"Python workers need only the dependencies\s*\n?\(`pip install ([^`]+)`",
                     page)
    assert line, "docs/cluster.md's worker dependency line is missing"
    assert sorted(shlex.split(line.group(1))) == sorted(d.replace(" ", "") for d in deps)
