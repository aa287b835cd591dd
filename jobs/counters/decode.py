"""Kafka records to events, or to the dead letter that says why one is not: a batch at a time.

Pure (no pyflink): the job's decode step (``decode_function.DecodeEvents``, a vectorized Python
function in the SQL plan) hands it the columns of one Arrow batch. Each record is judged by
``connectors.events.validate`` alone, exactly as it would be one at a time; the batch only
spares the per-record crossing between the JVM and Python.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from connectors.avro_codec import SchemaRegistry
from connectors.events import GIFT, LIKE, Invalid, read_event
from jobs.counters.logic import Lateness, dead_letter

# the decode step's output, one row per Kafka record: ``letter`` is the dead letter (JSON) of
# a record that is not an event (the other fields then 0 or empty), None for an event
DECODED_FIELDS = ("letter", "kind", "event_id", "room_id", "gift_id", "likes", "gift_count",
                  "gift_value", "ts", "late")


@dataclass
class Decoded:
    """Columns of one batch, in ``DECODED_FIELDS`` order."""

    letter: list = field(default_factory=list)
    kind: list = field(default_factory=list)
    event_id: list = field(default_factory=list)
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
    import pandas as pd

    ts = pd.to_datetime(ts, utc=True)
    ms = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    return [None if missing else int(m) for m, missing in zip(ms, ts.isna(), strict=True)]


class Decoder:
    """One per decode subtask: it keeps the newest event time read (``logic.Lateness``)."""

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
                out.event_id.append("")
                for column in (out.room_id, out.gift_id, out.likes, out.gift_count,
                               out.gift_value, out.ts, out.late):
                    column.append(0)
                continue
            out.letter.append(None)
            out.kind.append(result.kind)
            out.event_id.append(result.event_id)
            out.room_id.append(result.room_id)
            out.gift_id.append(result.gift_id)
            out.likes.append(result.likes)
            out.gift_count.append(result.gift_count)
            out.gift_value.append(result.gift_value)
            out.ts.append(result.ts)
            out.late.append(int(late(result.ts)))
        return out
