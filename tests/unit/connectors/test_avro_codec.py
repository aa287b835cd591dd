"""Single-object Avro: byte-compatible with Java, strict about what it accepts."""

from __future__ import annotations

import json
import shutil

import pytest

from connectors.avro_codec import MAGIC, SCHEMAS_DIR, DecodeError, SchemaRegistry

pytestmark = pytest.mark.unit

LIKE = {"event_id": "e-1", "room_id": 42, "user_id": 7, "count": 3, "ts": 1_763_700_000_000}
GIFT = {"event_id": "g-1", "room_id": 42, "user_id": 7, "gift_id": 9, "quantity": 2,
        "unit_value": 500, "ts": 1_763_700_000_000}


@pytest.fixture(scope="module")
def reg() -> SchemaRegistry:
    return SchemaRegistry()


# Computed with Java: SchemaNormalization.parsingFingerprint64, bytes little-endian.
@pytest.mark.parametrize(("short", "java_fingerprint"), [
    ("LikeEvent", "94c52e676abb948e"),
    ("GiftEvent", "f9f196bd06241f4f"),
])
def test_fingerprints_match_java(reg, short, java_fingerprint):
    assert reg.schema(short).fingerprint.hex() == java_fingerprint


@pytest.mark.parametrize(("short", "record"), [("LikeEvent", LIKE), ("GiftEvent", GIFT)])
def test_round_trip(reg, short, record):
    data = reg.encode(record, reg.schema(short))
    assert data[:2] == MAGIC and data[2:10] == reg.schema(short).fingerprint
    name, decoded = reg.decode(data)
    assert name.endswith(short) and decoded == record


def test_known_bytes_of_a_like(reg):
    # header, then zigzag varints: "e-1" (len 3), 42, 7, 3, ts (computed by hand)
    data = reg.encode(LIKE, reg.schema("LikeEvent"))
    assert data.hex() == "c30194c52e676abb948e" + "06652d31" + "54" + "0e" + "06" + "8094b2cbd466"


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda d: b"", "too short"),
    (lambda d: d[:9], "too short"),
    (lambda d: b"\x00\x01" + d[2:], "not single-object Avro"),
    (lambda d: d[:2] + b"\xff" * 8 + d[10:], "unknown schema fingerprint"),
    (lambda d: d[:-3], "corrupt"),
    (lambda d: d + b"\x00", "corrupt"),                 # trailing bytes
    (lambda d: d[:10] + b"\x7f" + d[11:], "corrupt"),  # string length far beyond the data
    (lambda d: d[:10] + b"\x01" + d[11:], "corrupt"),  # a negative string length
    (lambda d: d[:10] + b"\x06\xff\x2d\x31" + d[14:], "corrupt"),  # not UTF-8
    (lambda d: d[:10] + b"\x06\xed\xa0\x80" + d[14:], "corrupt"),  # an encoded surrogate
    (lambda d: d[:14] + b"\xd4\x00" + d[15:], "corrupt"),  # room_id 42 in two bytes, not one
    (lambda d: d[:14] + b"\xff" * 10 + b"\x01" + d[15:], "corrupt"),  # an 11-byte long
    (lambda d: d[:16] + b"\x80\x80\x80\x80\x10" + d[17:], "corrupt"),  # count beyond int
])
def test_bad_bytes_give_a_reason(reg, mangle, reason):
    data = reg.encode(LIKE, reg.schema("LikeEvent"))
    with pytest.raises(DecodeError, match=reason):
        reg.decode(mangle(data))


def test_older_writer_resolves_to_current_reader(tmp_path):
    """Adding a field with a default never breaks decoding of messages from old producers."""
    shutil.copytree(SCHEMAS_DIR, tmp_path / "schemas")
    root = tmp_path / "schemas"
    (root / "versions").mkdir(exist_ok=True)
    shutil.move(root / "like_event.avsc", root / "versions" / "like_event.v1.avsc")
    v2 = json.loads((root / "versions" / "like_event.v1.avsc").read_text())
    v2["fields"].append({"name": "source", "type": "string", "default": "app"})
    (root / "like_event.avsc").write_text(json.dumps(v2))

    old = SchemaRegistry(root)
    v1 = old.by_fingerprint[next(f for f, v in old.by_fingerprint.items()
                                 if v.path.name == "like_event.v1.avsc")]
    name, decoded = old.decode(old.encode(LIKE, v1))
    assert decoded == {**LIKE, "source": "app"}
    # and the new version itself round-trips
    assert old.decode(old.encode({**LIKE, "source": "web"}, old.schema("LikeEvent")))[1][
        "source"] == "web"
