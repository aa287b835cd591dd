"""The producer library as an app installs it: one ``pip install`` of
connectors/producer_library into a fresh virtual environment outside the checkout, then an app
there publishes to the real Kafka and learns each call's outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.avro_codec import SchemaRegistry
from local_stack.paths import REPO_ROOT
from tests.kafka_io import read_all

pytestmark = pytest.mark.integration

LIBRARY = REPO_ROOT / "connectors" / "producer_library"


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    """A fresh virtual environment with the library installed, in a directory of its own."""
    root = tmp_path_factory.mktemp("app")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    subprocess.run([str(root / "venv" / "bin" / "pip"), "install", "-q",
                    "--disable-pip-version-check", str(LIBRARY)],
                   check=True, timeout=900, cwd=root)
    return root


def _python(app: Path, code: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(app / "venv" / "bin" / "python"), "-c", code, *args],
                          capture_output=True, text=True, timeout=180, cwd=app, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_one_install_brings_only_what_the_producer_needs_under_one_name(app):
    listed = {p["name"].lower() for p in json.loads(_python(
        app, "import json, importlib.metadata as m; print(json.dumps("
             "[{'name': d.metadata['Name']} for d in m.distributions()]))"))}
    assert {"live-counters-producer", "kafka-python", "fastavro", "javaproperties"} <= listed
    assert not listed & {"apache-flink", "apache-beam", "pyarrow", "pandas", "cassandra-driver",
                         "live-counters"}
    top = json.loads(_python(app, (
        "import json, importlib.metadata as m; files = m.files('live-counters-producer'); "
        "print(json.dumps(sorted({f.parts[0] for f in files if '.dist-info' not in f.parts[0]"
        " and f.parts[0] != '..'})))")))
    assert top == ["live_counters_producer"]  # no connectors/, jobs/, tools/ in the app
    schemas = json.loads(_python(app, (
        "import json, live_counters_producer as p; "
        "print(json.dumps(sorted(p.SchemaRegistry().current)))")))
    assert schemas == ["live.counters.events.GiftEvent", "live.counters.events.LikeEvent"]


APP = """
import importlib.util, json, sys
import live_counters_producer as lcp
from kafka import KafkaProducer

bootstrap, likes, gifts = sys.argv[1:4]
assert importlib.util.find_spec("connectors") is None, "the checkout leaked into the app"
outcomes = []
with lcp.CounterProducer(bootstrap, likes_topic=likes, gifts_topic=gifts, merge_ms=200) as p:
    for _ in range(5):
        p.like(room_id=42, user_id=7, on_delivery=outcomes.append)   # merged: one event
    gift_id = p.gift(room_id=42, user_id=7, gift_id=3, quantity=2, unit_value=500,
                     on_delivery=outcomes.append)
# an app with a Kafka producer of its own: the serializer
e = lcp.encode_like(room_id=43, user_id=8, count=2)
own = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
own.send(likes, key=e.key, value=e.value).get(timeout=30)
own.close()
print(json.dumps({"outcomes": [[o.event_id, o.topic, o.error is None, o.record]
                               for o in outcomes],
                  "gift": gift_id, "encoded": e.event_id, "module": lcp.__file__}))
"""


def test_an_app_outside_the_checkout_publishes_and_learns_each_outcome(
        app, kafka_bootstrap, new_topic):
    likes, gifts = new_topic(), new_topic()
    out = json.loads(_python(app, APP, kafka_bootstrap, likes, gifts))
    assert out["module"].startswith(str(app / "venv"))
    outcomes = out["outcomes"]
    assert len(outcomes) == 6 and all(ok for _, _, ok, _ in outcomes)
    merged = [o for o in outcomes if o[1] == likes]
    assert len({o[0] for o in merged}) == 1 and merged[0][3]["count"] == 5  # one event, 5 taps
    assert [o[0] for o in outcomes if o[1] == gifts] == [out["gift"]]

    reg = SchemaRegistry()
    got_likes = sorted((r["room_id"], r["user_id"], r["count"], r["event_id"]) for r in (
        reg.decode(v)[1] for v in read_all(kafka_bootstrap, likes)))
    assert got_likes == [(42, 7, 5, merged[0][0]), (43, 8, 2, out["encoded"])]
    [gift] = [reg.decode(v)[1] for v in read_all(kafka_bootstrap, gifts)]
    assert (gift["event_id"], gift["quantity"], gift["unit_value"]) == (out["gift"], 2, 500)
