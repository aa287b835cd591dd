"""Kafka records to events, or to the dead letter that says why one is not: the decode step's
executable specification.

Pure (no pyflink). The job decodes in the JVM (``jvm/livecounters/EventDecoder.java``, built
from ``decoder_config``); a differential test holds it to this module, input for input
(``tests/unit/jobs/counters/decode/test_decoder_parity.py``). Each record is judged by
``connectors.events.read_event`` alone, exactly as it would be one at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from connectors import events
from connectors.avro_codec import SchemaRegistry
from connectors.events import GIFT, LIKE, Invalid, read_event
from jobs.counters.decode.dead_letter import DLQ_MAX_VALUE_BYTES, Lateness, dead_letter

# the decode step's output, one row per Kafka record: ``letter`` is the dead letter (JSON) of
# a record that is not an event (the other fields then 0 or empty), None for an event;
# (id_hi, id_lo) is the event's dedup key (``id_hash``)
DECODED_FIELDS = ("letter", "kind", "id_hi", "id_lo", "room_id", "gift_id", "likes",
                  "gift_count", "gift_value", "ts", "late")


def id_hash(kind: str, event_id: str) -> tuple[int, int]:
    """The dedup's key of an event: the MD5 of ``kind:event_id`` as two signed 64-bit ints.
    128 bits, because at a platform's 432M ids per dedup horizon a 64-bit key would make two
    real events one every few weeks; MD5 because both decoders have it (not for security: an
    app can repeat only its own ids)."""
    d = hashlib.md5(f"{kind}:{event_id}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(d[:8], "big", signed=True), int.from_bytes(d[8:], "big", signed=True)


def decoder_config(likes_topic: str, gifts_topic: str, watermark_delay_ms: int,
                   registry: SchemaRegistry | None = None) -> str:
    """The JVM decoder's configuration (``livecounters.EventDecoder``) as JSON: the topics,
    the lateness delay, the event contract's limits and every schema version, read from
    their one home here (``connectors/events.py``, ``dead_letter.py``, ``schemas/``)."""
    registry = registry or SchemaRegistry()
    current = {v.path for v in registry.current.values()}
    return json.dumps({
        "likes_topic": likes_topic, "gifts_topic": gifts_topic,
        "watermark_delay_ms": watermark_delay_ms,
        "limits": {"min_ts_ms": events.MIN_TS_MS, "max_ahead_ms": events.MAX_AHEAD_MS,
                   "max_count": events.MAX_COUNT, "max_unit_value": events.MAX_UNIT_VALUE,
                   "max_event_id_len": events.MAX_EVENT_ID_LEN,
                   "dlq_max_value_bytes": DLQ_MAX_VALUE_BYTES},
        "schemas": [{"json": v.path.read_text(), "current": v.path in current}
                    for v in sorted(registry.by_fingerprint.values(), key=lambda v: v.path)],
    }, sort_keys=True)


@dataclass
class Decoded:
    """Columns of one batch, in ``DECODED_FIELDS`` order."""

    letter: list = field(default_factory=list)
    kind: list = field(default_factory=list)
    id_hi: list = field(default_factory=list)
    id_lo: list = field(default_factory=list)
    room_id: list = field(default_factory=list)
    gift_id: list = field(default_factory=list)
    likes: list = field(default_factory=list)
    gift_count: list = field(default_factory=list)
    gift_value: list = field(default_factory=list)
    ts: list = field(default_factory=list)
    late: list = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return sum(letter is not None for letter in self.letter)

    def columns(self) -> dict[str, list]:
        return {name: getattr(self, name) for name in DECODED_FIELDS}


def epoch_ms(ts) -> list[int | None]:
    """A pandas column of timestamps (Kafka record times, TIMESTAMP_LTZ) as epoch
    milliseconds, whatever its resolution; None where missing."""

    ts = pd.to_datetime(ts, utc=True)
    ms = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    return [None if missing else int(m) for m, missing in zip(ms, ts.isna(), strict=True)]


class Decoder:
    """One per decode subtask: it keeps the newest event time read (``dead_letter.Lateness``)."""

    def __init__(self, likes_topic: str, gifts_topic: str, watermark_delay_ms: int,
                 registry: SchemaRegistry | None = None) -> None:
        self.kind_of_topic = {likes_topic: LIKE, gifts_topic: GIFT}
        self.registry = registry or SchemaRegistry()
        self.lateness = Lateness(watermark_delay_ms)

    def judge(self, value: bytes | None, topic: str, now_ms: int):
        """The event of one record, or ``Invalid`` with the reason (``events.read_event``)."""
        return read_event(self.registry, value, topic, self.kind_of_topic.get(topic), now_ms)

    def decode(self, values: Sequence[bytes | None], topics: Sequence[str],
               kafka_ts: Sequence[int | None], append_time: Sequence[bool],
               keys: Sequence[bytes | None], partitions: Sequence[int],
               offsets: Sequence[int], now_ms: int) -> Decoded:
        """One batch of Kafka records (their value, topic, timestamp in ms or None, whether
        that timestamp is the broker's append time, key, partition and offset). The
        "1 hour ahead" rule reads the broker's append time where the topic records it (a
        replay then gives the same verdict), else ``now_ms``."""
        out = Decoded()
        late = self.lateness.late
        for value, topic, kts, appended, key, partition, offset in zip(
                values, topics, kafka_ts, append_time, keys, partitions, offsets, strict=True):
            result = self.judge(value, topic, kts if appended and kts else now_ms)
            if isinstance(result, Invalid):
                out.letter.append(json.dumps(dead_letter(result.reason, topic, partition,
                                                         offset, kts, key, value),
                                             sort_keys=True))
                out.kind.append("")
                for column in (out.id_hi, out.id_lo, out.room_id, out.gift_id, out.likes,
                               out.gift_count, out.gift_value, out.ts, out.late):
                    column.append(0)
                continue
            out.letter.append(None)
            out.kind.append(result.kind)
            hi, lo = id_hash(result.kind, result.event_id)
            out.id_hi.append(hi)
            out.id_lo.append(lo)
            out.room_id.append(result.room_id)
            out.gift_id.append(result.gift_id)
            out.likes.append(result.likes)
            out.gift_count.append(result.gift_count)
            out.gift_value.append(result.gift_value)
            out.ts.append(result.ts)
            out.late.append(int(late(result.ts)))
        return out
