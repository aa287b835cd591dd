"""The event contract: the kinds of event, their limits and what makes one valid.

The Avro schemas in ``schemas/`` define the fields; this module builds their records
(``like_record``, ``gift_record``) and defines what the job counts and what it sends to the
dead-letter topic (``validate``, ``read_event``). The producer library
(``connectors/producer.py``) validates with the same function before it sends, so an app
learns of a bad event when it makes it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .avro_codec import DecodeError, SchemaRegistry  # relative: also the producer library

LIKE = "like"
GIFT = "gift"

MIN_TS_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
MAX_AHEAD_MS = 3_600_000       # 1 hour
MAX_COUNT = 10_000
MAX_UNIT_VALUE = 1_000_000_000
MAX_EVENT_ID_LEN = 128     # a UUID is 32 (hex) or 36 characters


@dataclass(frozen=True, slots=True)
class Event:
    """A valid event, reduced to what is counted. ``gift_id`` is 0 for likes."""

    kind: str
    event_id: str
    room_id: int
    user_id: int
    gift_id: int
    likes: int
    gift_count: int
    gift_value: int
    ts: int


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str


def like_record(event_id: str, room_id: int, user_id: int, count: int, ts: int
                ) -> dict[str, Any]:
    """A ``LikeEvent`` record (``schemas/like_event.avsc``): ``count`` taps at ``ts``."""
    return {"event_id": event_id, "room_id": room_id, "user_id": user_id, "count": count,
            "ts": ts}


def gift_record(event_id: str, room_id: int, user_id: int, gift_id: int, quantity: int,
                unit_value: int, ts: int) -> dict[str, Any]:
    """A ``GiftEvent`` record (``schemas/gift_event.avsc``)."""
    return {"event_id": event_id, "room_id": room_id, "user_id": user_id, "gift_id": gift_id,
            "quantity": quantity, "unit_value": unit_value, "ts": ts}


def validate(record_name: str, rec: Mapping[str, Any], now_ms: int) -> Event | Invalid:
    """An Event, or the reason the record is invalid.

    ``now_ms`` is the job's clock for the "more than 1 hour ahead" rule: the broker's append
    time of the message where the topic records it, so the verdict is the same on a replay.
    """
    kind = LIKE if record_name.endswith("LikeEvent") else GIFT if record_name.endswith(
        "GiftEvent") else None
    if kind is None:
        return Invalid(f"unexpected record type {record_name}")
    if not rec["event_id"]:
        return Invalid("empty event_id")
    if len(rec["event_id"]) > MAX_EVENT_ID_LEN:
        return Invalid(f"event_id of {len(rec['event_id'])} characters > {MAX_EVENT_ID_LEN}")
    if rec["room_id"] <= 0:
        return Invalid(f"room_id {rec['room_id']} <= 0")
    if rec["user_id"] < 0:
        return Invalid(f"user_id {rec['user_id']} < 0")
    ts = rec["ts"]
    if ts < MIN_TS_MS:
        return Invalid(f"ts {ts} before 2020-01-01")
    if ts > now_ms + MAX_AHEAD_MS:
        return Invalid(f"ts {ts} more than 1 hour ahead of {now_ms}")
    if kind == LIKE:
        if not 1 <= rec["count"] <= MAX_COUNT:
            return Invalid(f"count {rec['count']} outside 1..{MAX_COUNT}")
        return Event(LIKE, rec["event_id"], rec["room_id"], rec["user_id"], 0,
                     rec["count"], 0, 0, ts)
    if not 1 <= rec["quantity"] <= MAX_COUNT:
        return Invalid(f"quantity {rec['quantity']} outside 1..{MAX_COUNT}")
    if not 0 <= rec["unit_value"] <= MAX_UNIT_VALUE:
        return Invalid(f"unit_value {rec['unit_value']} outside 0..{MAX_UNIT_VALUE}")
    return Event(GIFT, rec["event_id"], rec["room_id"], rec["user_id"], rec["gift_id"],
                 0, rec["quantity"], rec["quantity"] * rec["unit_value"], ts)


def read_event(registry: SchemaRegistry, value: bytes | None, topic: str,
               topic_kind: str | None, now_ms: int) -> Event | Invalid:
    """The event in one Kafka value read from ``topic`` (which carries ``topic_kind`` events),
    or why it is invalid: not a known single-object Avro message, a record ``validate``
    refuses, or an event of the other kind. Never raises for bad input."""
    try:
        name, rec = registry.decode(value)
        result = validate(name, rec, now_ms)
    except DecodeError as exc:
        return Invalid(str(exc))
    except Exception as exc:  # noqa: BLE001 - a record that decodes to something validate cannot read
        return Invalid(f"unreadable record: {type(exc).__name__}: {exc}")
    if not isinstance(result, Invalid) and result.kind != topic_kind:
        return Invalid(f"{result.kind} event on topic {topic}")
    return result
