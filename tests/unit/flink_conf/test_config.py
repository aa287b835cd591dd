"""flink-conf/, the Flink configuration the embedded mini-cluster, the standalone cluster
and the ``flink run`` client all use, says what the docs promise."""

from __future__ import annotations

import pytest
import yaml

from local_stack.paths import FLINK_CONF_DIR

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
