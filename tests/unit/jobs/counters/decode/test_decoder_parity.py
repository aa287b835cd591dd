"""The JVM decoder (``jvm/livecounters/EventDecoder.java``) against its executable
specification (``jobs/counters/decode/spec.py``): one generated corpus through both, the same event
fields and the same dead letter, reason included, for every input.

The corpus: valid events of every schema version (here and with an older version beside the
current one), edge values, every invalid kind on both sides of each limit, events on the wrong
topic, truncations at every length, single-byte changes at every position, trailing bytes,
random bytes with and without a valid header, oversized values and keys, and event times that
go back and forth (lateness). Runs the Java side as one process (``livecounters.DecodeCorpus``,
built by scripts/setup), about a second.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pyflink
import pytest

from connectors import events
from connectors.avro_codec import MAGIC, SCHEMAS_DIR, SchemaRegistry
from connectors.events import gift_record, like_record
from jobs.counters.decode.spec import DECODED_FIELDS, Decoder, decoder_config
from jobs.runtime import avro_jars, job_jar

pytestmark = pytest.mark.unit

LIKES, GIFTS = "live.likes", "live.gifts"
NOW = 1_763_700_000_000
DELAY = 5_000
SEED = 20261207


def _input(value, topic=LIKES, kts=NOW, appended=False, key=b"42", partition=0, offset=0,
           now=NOW) -> dict:
    return {"value": value, "topic": topic, "kts": kts, "appended": appended, "key": key,
            "partition": partition, "offset": offset, "now": now}


def _valid_events(reg: SchemaRegistry, rnd: random.Random) -> list[bytes]:
    like_s, gift_s = reg.schema("LikeEvent"), reg.schema("GiftEvent")
    ids = ["e", "a" * events.MAX_EVENT_ID_LEN, "é" * events.MAX_EVENT_ID_LEN,
           "😀" * events.MAX_EVENT_ID_LEN, "nul\x00id", "id with spaces", "Ω-1"]
    ids += [f"{rnd.getrandbits(128):032x}" for _ in range(40)]
    longs = [1, 2, 42, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1]
    out = []
    for i, event_id in enumerate(ids):
        ts = rnd.choice([events.MIN_TS_MS, NOW, NOW + events.MAX_AHEAD_MS, NOW - 3_600_000,
                         NOW - rnd.randint(0, 60_000)])
        room, user = rnd.choice(longs), rnd.choice([0, *longs])
        out.append(reg.encode(like_record(event_id, room, user, rnd.choice(
            [1, 2, events.MAX_COUNT, rnd.randint(1, 100)]), ts), like_s))
        out.append(reg.encode(gift_record(event_id + "g", room, user, rnd.choice(
            [-2**31, -1, 0, 1, 2**31 - 1, 12]), rnd.choice([1, events.MAX_COUNT, 3]),
            rnd.choice([0, 1, events.MAX_UNIT_VALUE, rnd.randint(0, 10_000)]), ts + i), gift_s))
    return out


def _invalid_events(reg: SchemaRegistry) -> list[tuple[bytes, str]]:
    """(message, topic): each limit broken, on both sides where it has two."""
    like_s, gift_s = reg.schema("LikeEvent"), reg.schema("GiftEvent")

    def like(**kw):
        rec = {**like_record("e1", 7, 1, 3, NOW), **kw}
        return reg.encode(rec, like_s), LIKES

    def gift(**kw):
        rec = {**gift_record("g1", 7, 1, 5, 2, 100, NOW), **kw}
        return reg.encode(rec, gift_s), GIFTS

    return [
        like(event_id=""), like(event_id="a" * (events.MAX_EVENT_ID_LEN + 1)),
        like(event_id="😀" * (events.MAX_EVENT_ID_LEN + 1)),
        like(room_id=0), like(room_id=-1), like(room_id=-2**63), like(user_id=-1),
        like(ts=events.MIN_TS_MS - 1), like(ts=0), like(ts=-1),
        like(ts=NOW + events.MAX_AHEAD_MS + 1), like(count=0), like(count=-5),
        like(count=events.MAX_COUNT + 1), like(count=2**31 - 1),
        gift(quantity=0), gift(quantity=events.MAX_COUNT + 1), gift(unit_value=-1),
        gift(unit_value=events.MAX_UNIT_VALUE + 1), gift(room_id=0), gift(user_id=-7),
        (like()[0], GIFTS), (gift()[0], LIKES), (like()[0], "other.topic"),
    ]


def _mutations(good: bytes) -> list[bytes]:
    out = [good[:n] for n in range(len(good))]
    for i in range(len(good)):
        for b in (0x00, 0x01, 0x7F, 0x80, 0xFF, good[i] ^ 0x01, good[i] ^ 0x80):
            if b != good[i]:
                out.append(good[:i] + bytes([b]) + good[i + 1:])
    out += [good + b"\x00", good + b"\x80", good + good[10:]]
    return out


def corpus(reg: SchemaRegistry, seed: int = SEED) -> list[dict]:
    rnd = random.Random(seed)
    valid = _valid_events(reg, rnd)
    inputs = [_input(v, LIKES if reg.decode(v)[0].endswith("LikeEvent") else GIFTS,
                     offset=i) for i, v in enumerate(valid)]
    inputs += [_input(v, topic) for v, topic in _invalid_events(reg)]
    header = MAGIC + reg.schema("LikeEvent").fingerprint
    for good in valid[:4]:
        inputs += [_input(m) for m in _mutations(good)]
    inputs += [_input(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 60))))
               for _ in range(300)]
    inputs += [_input(header + bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 60))))
               for _ in range(2000)]
    inputs += [_input(None), _input(b""), _input(MAGIC), _input(b"\x00\x01" + header[2:]),
               _input(MAGIC + b"\xff" * 8 + valid[0][10:]),
               _input(valid[0], kts=None, key=None), _input(valid[0], key=b"k" * 70_000),
               _input(b"\xc3" * 70_000), _input(header + b"\xff" * 70_000)]
    big = reg.encode(like_record("x" * 100_000, 7, 1, 1, NOW), reg.schema("LikeEvent"))
    inputs += [_input(big), _input(big[:-1])]
    # the broker's append time against the producer's clock (the "1 hour ahead" rule)
    ahead = reg.encode(like_record("later", 7, 1, 1, NOW + 2 * 3_600_000),
                       reg.schema("LikeEvent"))
    inputs += [_input(ahead, kts=NOW + 2 * 3_600_000, appended=True),
               _input(ahead, kts=NOW + 2 * 3_600_000, appended=False),
               _input(ahead, kts=0, appended=True), _input(ahead, kts=None, appended=True)]
    rnd.shuffle(inputs)
    # then, in order, event times back and forth around the lateness delay, ahead of every
    # event before them (a clock ten hours on)
    later = NOW + 10 * 3_600_000
    for dt in (0, -DELAY, -DELAY - 1, 10_000, -1, 10_000 - DELAY, 10_000 - DELAY - 1, 60_000,
               -3_600_000, 60_000):
        inputs.append(_input(reg.encode(like_record(f"t{dt}", 7, 1, 1, later + dt),
                                        reg.schema("LikeEvent")), now=later))
    return [{**r, "offset": i, "partition": i % 3} for i, r in enumerate(inputs)]


def python_side(reg: SchemaRegistry, inputs: list[dict]) -> list[dict]:
    d = Decoder(LIKES, GIFTS, DELAY, registry=reg)
    out = []
    for r in inputs:  # one at a time: each with its own clock, through one decoder
        batch = d.decode([r["value"]], [r["topic"]], [r["kts"]], [r["appended"]], [r["key"]],
                         [r["partition"]], [r["offset"]], r["now"])
        row = {name: col[0] for name, col in batch.columns().items()}
        row["letter"] = json.loads(row["letter"]) if row["letter"] is not None else None
        out.append(row)
    return out


def jvm_side(reg: SchemaRegistry, inputs: list[dict], tmp_path: Path) -> list[dict]:
    config = tmp_path / "decoder.json"
    config.write_text(decoder_config(LIKES, GIFTS, DELAY, registry=reg))

    def b64(b):
        return base64.b64encode(b).decode() if b is not None else None

    lines = "".join(json.dumps({**r, "value": b64(r["value"]), "key": b64(r["key"])}) + "\n"
                    for r in inputs)
    java = Path(os.environ.get("JAVA_HOME", "/usr")) / "bin" / "java"
    # flink-dist for the SLF4J API Avro logs through (on a TaskManager, Flink's own)
    flink_dist = next((Path(pyflink.__file__).parent / "lib").glob("flink-dist-*.jar"))
    classpath = os.pathsep.join(map(str, [job_jar(), *avro_jars(), flink_dist]))
    done = subprocess.run([str(java) if java.exists() else "java", "-cp", classpath,
                           "livecounters.DecodeCorpus", str(config)], input=lines,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def _compare(reg: SchemaRegistry, tmp_path: Path) -> int:
    inputs = corpus(reg)
    want, got = python_side(reg, inputs), jvm_side(reg, inputs, tmp_path)
    assert len(got) == len(want) == len(inputs)
    diffs = []
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        if w != g:
            r = inputs[i]
            diffs.append(f"input {i} ({r['value'][:80].hex() if r['value'] else r['value']}, "
                         f"{r['topic']}): specification {w}, JVM {g}")
    assert not diffs, f"{len(diffs)} of {len(inputs)} differ:\n" + "\n".join(diffs[:10])
    return len(inputs)


def test_the_corpus_covers_every_outcome():
    reg = SchemaRegistry()
    rows = python_side(reg, corpus(reg))
    reasons = {r["letter"]["reason"].split(" ")[0] for r in rows if r["letter"]}
    assert {"too", "not", "unknown", "corrupt", "empty", "event_id", "room_id", "user_id",
            "ts", "count", "quantity", "unit_value", "like", "gift"} <= reasons, reasons
    kinds = {r["kind"] for r in rows if not r["letter"]}
    assert kinds == {"like", "gift"}
    assert any(r["late"] for r in rows) and sum(1 for r in rows if not r["letter"]) > 90
    assert any(r["letter"] and r["letter"]["value_truncated"] for r in rows)


def test_the_jvm_decoder_decodes_as_its_specification(tmp_path):
    assert _compare(SchemaRegistry(), tmp_path) > 5_000


def test_the_same_with_an_older_schema_version_beside_the_current(tmp_path):
    """A producer on the version before a field was added: both resolve it to the current."""
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, root)
    (root / "versions").mkdir(exist_ok=True)
    shutil.move(root / "like_event.avsc", root / "versions" / "like_event.v1.avsc")
    v2 = json.loads((root / "versions" / "like_event.v1.avsc").read_text())
    v2["fields"].append({"name": "source", "type": "string", "default": "app"})
    (root / "like_event.avsc").write_text(json.dumps(v2))
    reg = SchemaRegistry(root)
    old = next(v for v in reg.by_fingerprint.values() if v.path.name == "like_event.v1.avsc")
    assert reg.decode(reg.encode(like_record("e", 1, 1, 1, NOW), old))[1]["source"] == "app"

    class OldLikes(SchemaRegistry):
        """Encodes likes with the older version: the corpus's likes come from old apps."""

        def schema(self, short_name):
            return old if short_name == "LikeEvent" else super().schema(short_name)

    assert _compare(OldLikes(root), tmp_path) > 5_000


def test_decoded_fields_are_the_jvm_functions_columns():
    """The SQL row of the JVM function (DecodeEvents.java) names DECODED_FIELDS in order."""
    source = (Path(job_jar.__code__.co_filename).parent / "counters" / "jvm" / "livecounters"
              / "DecodeEvents.java").read_text()
    hint = source.split('@DataTypeHint("ROW<', 1)[1].split('>"))', 1)[0].replace('"', "")
    names = [part.strip().split(" ")[0] for part in hint.replace("+", "").split(",")]
    assert tuple(names) == DECODED_FIELDS
