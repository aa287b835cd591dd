"""docs/wire-format.md, the page apps in other languages build from, matches the code: its
fingerprints and test vectors are what the encoder gives."""

from __future__ import annotations

import re

import pytest

from connectors.avro_codec import SchemaRegistry
from connectors.events import gift_record, like_record
from local_stack.paths import REPO_ROOT

pytestmark = pytest.mark.unit

PAGE = (REPO_ROOT / "docs" / "wire-format.md").read_text()


@pytest.mark.parametrize("short", ["LikeEvent", "GiftEvent"])
def test_the_fingerprints_on_the_page_are_the_schemas(short):
    fp = SchemaRegistry().schema(short).fingerprint
    row = re.search(rf"\| `{short}` \| `([0-9a-f]{{16}})` \| (-?\d+) \|", PAGE)
    assert row, f"no fingerprint row for {short}"
    assert row.group(1) == fp.hex()
    assert int(row.group(2)) == int.from_bytes(fp, "little", signed=True)


def test_the_test_vectors_are_what_the_encoder_writes():
    reg = SchemaRegistry()
    like = reg.encode(like_record("e-1", 42, 7, 3, 1_763_700_000_000), reg.schema("LikeEvent"))
    gift = reg.encode(gift_record("g-1", 42, 7, 9, 2, 500, 1_763_700_000_000),
                      reg.schema("GiftEvent"))
    vectors = re.findall(r"\| (like|gift): .*? \| `([0-9a-f]+)` \|", PAGE)
    assert dict(vectors) == {"like": like.hex(), "gift": gift.hex()}


JAVA = """
import java.io.File;
import java.util.HexFormat;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;

public class EncodeVectors {
    public static void main(String[] args) throws Exception {
        Schema like = new Schema.Parser().parse(new File(args[0] + "/like_event.avsc"));
        Schema gift = new Schema.Parser().parse(new File(args[0] + "/gift_event.avsc"));
        GenericRecord l = new GenericData.Record(like);
        l.put("event_id", "e-1"); l.put("room_id", 42L); l.put("user_id", 7L);
        l.put("count", 3); l.put("ts", 1763700000000L);
        GenericRecord g = new GenericData.Record(gift);
        g.put("event_id", "g-1"); g.put("room_id", 42L); g.put("user_id", 7L);
        g.put("gift_id", 9); g.put("quantity", 2); g.put("unit_value", 500L);
        g.put("ts", 1763700000000L);
        for (Object[] e : new Object[][] {{"like", like, l}, {"gift", gift, g}}) {
            BinaryMessageEncoder<GenericRecord> enc =
                new BinaryMessageEncoder<>(GenericData.get(), (Schema) e[1]);
            java.nio.ByteBuffer b = enc.encode((GenericRecord) e[2]);
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            System.out.println(e[0] + " " + HexFormat.of().formatHex(bytes));
        }
    }
}
"""


def test_javas_binary_message_encoder_writes_the_test_vectors(tmp_path):
    """What the page tells a Java app to use gives the bytes the job reads."""
    import glob
    import os
    import subprocess
    from pathlib import Path

    import pyflink

    from connectors.avro_codec import SCHEMAS_DIR
    from jobs.runtime import avro_jars

    source = tmp_path / "EncodeVectors.java"
    source.write_text(JAVA)
    flink_dist = glob.glob(str(Path(pyflink.__file__).parent / "lib" / "flink-dist-*.jar"))
    java = Path(os.environ.get("JAVA_HOME", "/usr")) / "bin" / "java"
    done = subprocess.run([str(java) if java.exists() else "java", "-cp",
                           os.pathsep.join([*map(str, avro_jars()), *flink_dist]), str(source),
                           str(SCHEMAS_DIR)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    java_vectors = dict(line.split() for line in done.stdout.splitlines())
    assert java_vectors == dict(re.findall(r"\| (like|gift): .*? \| `([0-9a-f]+)` \|", PAGE))
