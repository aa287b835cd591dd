"""Seeded workloads with their ground truth, for tests, the fault harness and benchmarks.

The generator decides, message by message, what the job must do with it (count it, ignore it
as a repeat, or dead-letter it) and keeps the expected contents of every counter row and of
the dead-letter topic. It does not call the job's validation: which messages are valid is
decided here. What a counted event adds, and to which rows, is the counter-row model's
``rows_of`` (``connectors/counter_rows.py``), with the window size of the job's settings.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.avro_codec import SchemaRegistry
from connectors.counter_rows import DUPLICATE, TOTALS, WINDOWS, RowKey, Values, rows_of
from connectors.events import Event, gift_record, like_record
from jobs.counters.settings import Settings

MINUTE = 60_000
HOUR = 60 * MINUTE
MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # what produce() sends at most (the poison block has >1 MB)


@dataclass
class Expected:
    totals: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 5))
    windows: dict[tuple[int, int], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0] * 3))
    gifts: dict[tuple[int, int], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0] * 2))
    dead_letters: list[bytes | None] = field(default_factory=list)

    def add(self, row: RowKey, values: Values) -> None:
        """Add ``values`` to the expected contents of counter row ``row``."""
        table, room, sub = row
        target = (self.totals[room] if table == TOTALS else
                  self.windows[(room, sub)] if table == WINDOWS else self.gifts[(room, sub)])
        for i, v in enumerate(values):
            target[i] += v


@dataclass
class Message:
    topic_kind: str        # "like" | "gift": which topic it goes to
    room_key: int          # the message key (room id), also for bad messages
    value: bytes | None    # None: a record with a null value


@dataclass
class Workload:
    messages: list[Message]
    expected: Expected
    counted: int = 0
    duplicates: int = 0
    invalid: int = 0
    late: int = 0
    skewed: int = 0   # counted events from the producer whose clock is behind


class _Builder:
    """Appends messages to a workload and keeps its ground truth: what each row must hold."""

    def __init__(self, rnd: random.Random, reg: SchemaRegistry, window_ms: int) -> None:
        self.rnd, self.reg, self.window_ms = rnd, reg, window_ms
        self.like_s, self.gift_s = reg.schema("LikeEvent"), reg.schema("GiftEvent")
        self.wl = Workload([], Expected())
        self.sent: list[Message] = []  # counted messages, which may be sent again

    def record(self, kind: str, room: int, ts: int) -> dict:
        rnd = self.rnd
        event_id, user = uuid.UUID(int=rnd.getrandbits(128)).hex, rnd.randint(0, 10**6)
        if kind == "like":
            return like_record(event_id, room, user, rnd.randint(1, 20), ts)
        return gift_record(event_id, room, user, rnd.randint(1, 12), rnd.randint(1, 5),
                           rnd.choice([1, 10, 100, 5200]), ts)

    def encode(self, kind: str, rec: dict) -> bytes:
        return self.reg.encode(rec, self.like_s if kind == "like" else self.gift_s)

    def good(self, kind: str, rec: dict) -> Message:
        """A valid, first-seen event: counted."""
        r = rec["room_id"]
        quantity = rec.get("quantity", 0)
        event = Event(kind, rec["event_id"], r, rec["user_id"], rec.get("gift_id", 0),
                      rec.get("count", 0), quantity, quantity * rec.get("unit_value", 0),
                      rec["ts"])
        for row, values in rows_of(event, self.window_ms):
            self.wl.expected.add(row, values)
        self.wl.counted += 1
        m = Message(kind, r, self.encode(kind, rec))
        self.wl.messages.append(m)
        self.sent.append(m)
        return m

    def again(self, m: Message) -> None:
        """A resend of a counted event: a duplicate."""
        self.wl.messages.append(Message(m.topic_kind, m.room_key, m.value))
        self.wl.expected.add((TOTALS, m.room_key, 0), DUPLICATE)
        self.wl.duplicates += 1

    def bad(self, kind: str, room_key: int, value: bytes | None) -> None:
        """A message the job must dead-letter."""
        self.wl.messages.append(Message(kind, room_key, value))
        self.wl.expected.dead_letters.append(value)
        self.wl.invalid += 1

    def malformed(self, kind: str, rec: dict) -> None:
        """Bytes that are no known message, made from a good one."""
        rnd = self.rnd
        good = self.encode(kind, rec)
        how = rnd.randrange(4)
        if how == 0:
            value = good[: rnd.randint(0, len(good) - 1)]            # truncated
        elif how == 1:
            value = b"\x00\x01" + good[2:]                            # wrong magic
        elif how == 2:
            value = good[:2] + rnd.randbytes(8) + good[10:]          # unknown fingerprint
        else:
            value = rnd.randbytes(rnd.randint(1, 80))                # noise
        if value[:2] == b"\xc3\x01" and value[2:10] in (self.like_s.fingerprint,
                                                        self.gift_s.fingerprint):
            value = good[:-1]  # noise that happens to look valid: truncate instead
        self.bad(kind, rec["room_id"], value)


def generate(seed: int, events: int, rooms: int, now_ms: int, window_ms: int | None = None, *,
             hot_rooms: int = 3, hot_share: float = 0.3, dup_rate: float = 0.03,
             late_rate: float = 0.02, malformed_rate: float = 0.005,
             invalid_rate: float = 0.005, skew_share: float = 0.0, skew_ms: int = -HOUR,
             poison: bool = False, registry: SchemaRegistry | None = None,
             span_ms: int = 0) -> Workload:
    """``events`` messages over rooms 1..``rooms`` (``hot_share`` of them to the first
    ``hot_rooms``), with repeats, late events, malformed bytes and invalid values mixed in.

    ``skew_share`` of the events come from a producer whose clock is ``skew_ms`` off (an hour
    behind by default: late, still counted). ``poison`` puts the block of ``poison_block``
    in the middle of the stream. ``window_ms``: the window size of the job that counts the
    workload (its ``Settings.window_ms``; default: the job's default). ``span_ms``: the
    messages are sent over this long from ``now_ms``; an on-time event carries the time it is
    due to be sent (0: every event is stamped around ``now_ms``).
    """
    rnd = random.Random(seed)
    b = _Builder(rnd, registry or SchemaRegistry(), window_ms or Settings().window_ms)
    wl = b.wl

    def room() -> int:
        return rnd.randint(1, hot_rooms) if rnd.random() < hot_share else rnd.randint(1, rooms)

    for i in range(events):
        if poison and i == events // 2:
            poison_block(b, now_ms, rooms)
        p = rnd.random()
        if b.sent and p < dup_rate:
            b.again(rnd.choice(b.sent))
            continue
        p -= dup_rate
        kind = "like" if rnd.random() < 0.8 else "gift"
        due = now_ms + i * span_ms // events
        ts = due - rnd.randint(0, 5_000)
        late = skewed = False
        if p < late_rate:                              # behind the watermark, still counted
            ts = due - rnd.randint(10 * MINUTE, 90 * MINUTE)
            late = True
        elif rnd.random() < skew_share:                # the producer whose clock is off
            ts += skew_ms
            skewed = True
        rec = b.record(kind, room(), ts)
        q = rnd.random()
        if q < malformed_rate:
            b.malformed(kind, rec)
            continue
        if q < malformed_rate + invalid_rate:          # well-formed, invalid values
            field_, bad = rnd.choice(_INVALID[kind])
            rec[field_] = bad(now_ms)
            b.bad(kind, rec["room_id"], b.encode(kind, rec))
            continue
        b.good(kind, rec)
        wl.late += late
        wl.skewed += skewed
    return wl


def poison_block(b: _Builder, now_ms: int, rooms: int) -> None:
    """Every kind of bad input at once, each followed by good events of the same room (the
    same partition) that must still be counted: truncated and bit-flipped messages, an unknown
    schema fingerprint, a null value, every invalid value (negative, absurd, epoch 0, the year
    2100), a bad message followed by 1,000 good ones, messages over 1 MB, and one event sent
    five times."""
    rnd = b.rnd
    room = rnd.randint(1, rooms)

    def fresh(kind: str = "like") -> dict:
        return b.record(kind, room, now_ms - rnd.randint(0, 5_000))

    for kind in ("like", "gift"):
        good = b.encode(kind, fresh(kind))
        b.bad(kind, room, good[: len(good) // 2])                       # truncated
        b.bad(kind, room, good[:-1])
        for _ in range(3):                                              # a bit of the header
            i = rnd.randrange(10)
            b.bad(kind, room, good[:i] + bytes([good[i] ^ (1 << rnd.randrange(8))]) + good[i + 1:])
        b.bad(kind, room, good[:-1] + bytes([good[-1] | 0x80]))         # last varint runs on
        b.bad(kind, room, good[:2] + bytes(8) + good[10:])              # unknown fingerprint
        b.bad(kind, room, good + b"\x00")                               # a trailing byte
        for field_, bad in _INVALID[kind]:                              # every invalid value
            rec = fresh(kind)
            rec[field_] = bad(now_ms)
            b.bad(kind, room, b.encode(kind, rec))
        b.good(kind, fresh(kind))
    b.bad("like", room, None)                                           # a null value
    b.bad("gift", room, b"")                                            # an empty one
    b.bad("like", room, b.encode("like", fresh() | {"room_id": 0}))     # then 1,000 good ones
    for _ in range(1_000):
        b.good("like", fresh())
    big = fresh()
    big["event_id"] = "x" * 1_100_000                                   # over 1 MB, valid Avro
    b.bad("like", room, b.encode("like", big))
    b.bad("gift", room, rnd.randbytes(1_200_000))                       # over 1 MB of noise
    b.good("like", fresh())
    m = b.good("gift", fresh("gift"))                                   # one event, five times
    for _ in range(4):
        b.again(m)


_COMMON = [
    ("room_id", lambda now: 0), ("room_id", lambda now: -7), ("user_id", lambda now: -1),
    ("ts", lambda now: 0), ("ts", lambda now: 4_102_444_800_000),     # epoch 0, year 2100
    ("ts", lambda now: now + 2 * 3_600_000), ("event_id", lambda now: ""),
]
_INVALID = {
    "like": _COMMON + [("count", lambda now: 0), ("count", lambda now: 10_001),
                       ("count", lambda now: -3)],
    "gift": _COMMON + [("quantity", lambda now: 0), ("quantity", lambda now: 20_000),
                       ("unit_value", lambda now: -1),
                       ("unit_value", lambda now: 1_000_000_001)],
}


def produce(wl: Workload, bootstrap: str, likes_topic: str, gifts_topic: str, *,
            rate: float | None = None, progress: Callable[[int], None] | None = None) -> None:
    """Send every message of ``wl``, keyed by room, with acks=all and idempotence; raises if
    any failed (then what reached Kafka is unknown: the run proves nothing).

    ``rate`` (messages/s) paces the sends, for a live stream instead of a backlog. Sends wait
    out a broker outage of up to 10 minutes (retries of an idempotent producer: no message
    twice). ``progress(sent)`` is called about once a second.
    """
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=256 * 1024, enable_idempotence=True,
                             max_request_size=MAX_MESSAGE_BYTES,
                             delivery_timeout_ms=600_000, max_block_ms=600_000,
                             reconnect_backoff_max_ms=2_000)
    topic = {"like": likes_topic, "gift": gifts_topic}
    futures = []
    t0 = last = time.monotonic()
    try:
        for i, m in enumerate(wl.messages):
            if rate and i % 100 == 0:
                ahead = t0 + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            futures.append(producer.send(topic[m.topic_kind], key=str(m.room_key).encode(),
                                         value=m.value))
            if progress and time.monotonic() - last >= 1:
                last = time.monotonic()
                progress(i + 1)
        producer.flush(timeout=600)
        for f in futures:
            f.get(timeout=0)  # raises the send error, if any
        if progress:
            progress(len(wl.messages))
    finally:
        producer.close()


def plus(base: Expected, add: Expected) -> Expected:
    """``base`` (what the tables held before) with ``add`` on top."""
    out = Expected()
    for name in ("totals", "windows", "gifts"):
        target = getattr(out, name)
        for src in (getattr(base, name), getattr(add, name)):
            for k, v in src.items():
                target[k] = [a + b for a, b in zip(target[k], v, strict=True)]
    return out
