"""The decode step's batch (``jobs.counters.decode``): each record judged as alone, events
with their fields, everything else a dead letter with its reason and origin."""

from __future__ import annotations

import base64
import json

from connectors.avro_codec import SchemaRegistry
from connectors.events import Invalid, gift_record, like_record
from jobs.counters.decode.spec import DECODED_FIELDS, Decoder, epoch_ms, id_hash

NOW = 1_763_700_000_000
REG = SchemaRegistry()


def _like(event_id="e1", room=7, count=3, ts=NOW):
    return REG.encode(like_record(event_id, room, 1, count, ts), REG.schema("LikeEvent"))


def _gift(event_id="g1", room=7, gift=5, quantity=2, unit=100, ts=NOW):
    return REG.encode(gift_record(event_id, room, 1, gift, quantity, unit, ts),
                      REG.schema("GiftEvent"))


def _batch(decoder, records):
    """records: (value, topic, kafka ts or None)"""
    n = len(records)
    return decoder.decode([r[0] for r in records], [r[1] for r in records],
                          [r[2] for r in records], [False] * n, [b"7"] * n, [0] * n,
                          list(range(n)), NOW)


def test_a_batch_gives_events_and_dead_letters_in_record_order():
    d = Decoder("likes", "gifts", 5_000)
    out = _batch(d, [(_like(), "likes", NOW), (b"\x00garbage", "likes", NOW),
                     (_gift(), "gifts", None), (_like("e2"), "gifts", NOW), (None, "likes", NOW),
                     (_like("e3", ts=NOW - 60_000), "likes", NOW)])
    cols = out.columns()
    assert list(cols) == list(DECODED_FIELDS)
    assert all(len(c) == 6 for c in cols.values())
    assert out.letter[0] is None and out.kind[0] == "like"
    assert (out.id_hi[0], out.id_lo[0]) == id_hash("like", "e1")
    assert (out.room_id[0], out.likes[0], out.ts[0], out.late[0]) == (7, 3, NOW, 0)
    assert out.letter[2] is None and out.kind[2] == "gift"
    assert (out.gift_id[2], out.gift_count[2], out.gift_value[2]) == (5, 2, 200)
    assert out.late[5] == 1  # a minute behind the newest event read, the delay is 5 s
    assert out.invalid == 3
    letters = {i: json.loads(out.letter[i]) for i in (1, 3, 4)}
    assert letters[3]["reason"] == "like event on topic gifts"
    assert letters[1]["topic"] == "likes" and letters[1]["offset"] == 1
    assert base64.b64decode(letters[1]["value"]) == b"\x00garbage"
    assert letters[1]["kafka_timestamp"] == NOW and letters[4]["value"] is None
    for i in (1, 3, 4):  # no event fields on a dead letter
        assert (out.kind[i], out.room_id[i], out.ts[i], out.late[i]) == ("", 0, 0, 0)


def test_each_record_is_judged_as_it_would_be_alone():
    records = [(_like(), "likes", NOW), (b"\x00garbage", "likes", NOW),
               (_gift(quantity=0), "gifts", NOW), (_like(ts=NOW + 7_200_000), "likes", NOW),
               (_gift(), "likes", NOW)]
    batch = _batch(Decoder("likes", "gifts", 5_000), records)
    alone = Decoder("likes", "gifts", 5_000)
    for i, (value, topic, _) in enumerate(records):
        judged = alone.judge(value, topic, NOW)
        if isinstance(judged, Invalid):
            assert json.loads(batch.letter[i])["reason"] == judged.reason
        else:
            assert batch.letter[i] is None
            assert (batch.id_hi[i], batch.id_lo[i]) == id_hash(judged.kind, judged.event_id)


def test_the_one_hour_ahead_rule_reads_the_broker_append_time_when_the_topic_records_it():
    d = Decoder("likes", "gifts", 5_000)
    ahead = _like(ts=NOW + 2 * 3_600_000)
    later = NOW + 2 * 3_600_000
    out = d.decode([ahead, ahead], ["likes", "likes"], [later, later], [True, False],
                   [None, None], [0, 0], [0, 1], NOW)
    assert out.letter[0] is None       # appended two hours later: not ahead of its clock
    assert out.letter[1] is not None   # create time: judged against now


def test_kafka_times_become_epoch_milliseconds_whatever_their_resolution():
    import pandas as pd

    stamps = [pd.Timestamp(NOW, unit="ms", tz="UTC"), None]
    for unit in ("ms", "us", "ns"):
        col = pd.Series(stamps, dtype=f"datetime64[{unit}, UTC]")
        assert epoch_ms(col) == [NOW, None], unit
    naive = pd.Series([pd.Timestamp(NOW, unit="ms")], dtype="datetime64[ms]")
    assert epoch_ms(naive) == [NOW]
