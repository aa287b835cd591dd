"""Seeded workloads with their ground truth, for tests, the fault harness and benchmarks.

The generator decides, message by message, what the job must do with it (count it, ignore it
as a repeat, or dead-letter it) and keeps the expected contents of every counter row and of
the dead-letter topic. It does not call the job's validation: the oracle stands on its own.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from connectors.avro_codec import SchemaRegistry

MINUTE = 60_000


@dataclass
class Expected:
    totals: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 5))
    windows: dict[tuple[int, int], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0] * 3))
    gifts: dict[tuple[int, int], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0] * 2))
    dead_letters: list[bytes] = field(default_factory=list)


@dataclass
class Message:
    topic_kind: str   # "like" | "gift": which topic it goes to
    room_key: int     # the message key (room id), also for bad messages
    value: bytes


@dataclass
class Workload:
    messages: list[Message]
    expected: Expected
    counted: int = 0
    duplicates: int = 0
    invalid: int = 0
    late: int = 0


def generate(seed: int, events: int, rooms: int, now_ms: int, window_ms: int = MINUTE, *,
             hot_rooms: int = 3, hot_share: float = 0.3, dup_rate: float = 0.03,
             late_rate: float = 0.02, malformed_rate: float = 0.005,
             invalid_rate: float = 0.005, registry: SchemaRegistry | None = None) -> Workload:
    """``events`` messages over rooms 1..``rooms`` (``hot_share`` of them to the first
    ``hot_rooms``), with repeats, late events, malformed bytes and invalid values mixed in."""
    rnd = random.Random(seed)
    reg = registry or SchemaRegistry()
    like_s, gift_s = reg.schema("LikeEvent"), reg.schema("GiftEvent")
    wl = Workload([], Expected())
    exp = wl.expected
    sent: list[Message] = []  # counted messages that can be repeated

    def room() -> int:
        return rnd.randint(1, hot_rooms) if rnd.random() < hot_share else rnd.randint(1, rooms)

    def count(kind: str, rec: dict) -> None:
        r = rec["room_id"]
        ws = rec["ts"] - rec["ts"] % window_ms
        if kind == "like":
            t, w = exp.totals[r], exp.windows[(r, ws)]
            t[0] += rec["count"]
            w[0] += rec["count"]
        else:
            value = rec["quantity"] * rec["unit_value"]
            t, w, g = exp.totals[r], exp.windows[(r, ws)], exp.gifts[(r, rec["gift_id"])]
            t[1] += rec["quantity"]
            t[2] += value
            w[1] += rec["quantity"]
            w[2] += value
            g[0] += rec["quantity"]
            g[1] += value
        exp.totals[r][3] += 1
        wl.counted += 1

    for _ in range(events):
        p = rnd.random()
        if sent and p < dup_rate:                      # a resend of a counted event
            m = rnd.choice(sent)
            wl.messages.append(Message(m.topic_kind, m.room_key, m.value))
            exp.totals[m.room_key][4] += 1
            wl.duplicates += 1
            continue
        p -= dup_rate
        kind = "like" if rnd.random() < 0.8 else "gift"
        r = room()
        ts = now_ms - rnd.randint(0, 5_000)
        late = False
        if p < late_rate:                              # behind the watermark, still counted
            ts = now_ms - rnd.randint(10 * MINUTE, 90 * MINUTE)
            late = True
        if kind == "like":
            rec = {"event_id": uuid.UUID(int=rnd.getrandbits(128)).hex, "room_id": r,
                   "user_id": rnd.randint(0, 10**6), "count": rnd.randint(1, 20), "ts": ts}
            schema = like_s
        else:
            rec = {"event_id": uuid.UUID(int=rnd.getrandbits(128)).hex, "room_id": r,
                   "user_id": rnd.randint(0, 10**6), "gift_id": rnd.randint(1, 12),
                   "quantity": rnd.randint(1, 5), "unit_value": rnd.choice([1, 10, 100, 5200]),
                   "ts": ts}
            schema = gift_s
        q = rnd.random()
        if q < malformed_rate:                         # bytes that are no known message
            good = reg.encode(rec, schema)
            how = rnd.randrange(4)
            if how == 0:
                value = good[: rnd.randint(0, len(good) - 1)]            # truncated
            elif how == 1:
                value = b"\x00\x01" + good[2:]                            # wrong magic
            elif how == 2:
                value = good[:2] + rnd.randbytes(8) + good[10:]          # unknown fingerprint
            else:
                value = rnd.randbytes(rnd.randint(1, 80))                # noise
            if value[:2] == b"\xc3\x01" and value[2:10] in (like_s.fingerprint,
                                                            gift_s.fingerprint):
                value = good[:-1]  # noise that happens to look valid: truncate instead
            wl.messages.append(Message(kind, r, value))
            exp.dead_letters.append(value)
            wl.invalid += 1
            continue
        if q < malformed_rate + invalid_rate:          # well-formed, invalid values
            field_, bad = rnd.choice(_INVALID[kind])
            rec[field_] = bad(now_ms)
            value = reg.encode(rec, schema)
            wl.messages.append(Message(kind, r, value))
            exp.dead_letters.append(value)
            wl.invalid += 1
            continue
        value = reg.encode(rec, schema)
        m = Message(kind, r, value)
        wl.messages.append(m)
        sent.append(m)
        count(kind, rec)
        wl.late += late
    return wl


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


def produce(wl: Workload, bootstrap: str, likes_topic: str, gifts_topic: str) -> None:
    """Send every message of ``wl``, keyed by room, with acks=all; raises if any failed."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=256 * 1024, enable_idempotence=True)
    topic = {"like": likes_topic, "gift": gifts_topic}
    try:
        futures = [producer.send(topic[m.topic_kind], key=str(m.room_key).encode(),
                                 value=m.value) for m in wl.messages]
        producer.flush(timeout=300)
        for f in futures:
            f.get(timeout=0)  # raises the send error, if any
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
