"""The producer library apps import to publish likes and gifts.

    from connectors.producer import CounterProducer

    with CounterProducer("kafka:9092") as p:
        p.like(room_id=42, user_id=7)                   # merged with the user's next taps
        p.gift(room_id=42, user_id=7, gift_id=3, quantity=2, unit_value=500)
    # leaving the block flushes: every event is acknowledged by Kafka (acks=all) or raised

Guarantees: an idempotent producer with ``acks=all``, keyed by room id (ASCII decimal), so
one room's events stay in one partition and in order. Every event carries a unique
``event_id`` (the job counts an id once), so resending after an error never double counts.
Send errors are not swallowed: ``flush()`` (and leaving the ``with`` block) raises
``ProduceError`` listing them. Rapid likes of one user in one room within ``merge_ms`` are
sent as one event whose ``count`` is their sum ("10 likes in 3 s"); ``merge_ms=0`` turns
merging off.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from connectors.avro_codec import SchemaRegistry
from connectors.events import MAX_COUNT, Invalid, gift_record, like_record, validate

log = logging.getLogger(__name__)


class ProduceError(RuntimeError):
    """Events Kafka did not acknowledge; ``errors`` holds (event_id, exception) pairs."""

    def __init__(self, errors: list[tuple[str, BaseException]]) -> None:
        super().__init__(f"{len(errors)} events not acknowledged; first: {errors[0][1]!r}")
        self.errors = errors


def _now_ms() -> int:
    return int(time.time() * 1000)


class CounterProducer:
    def __init__(self, bootstrap_servers: str = "127.0.0.1:9092", *,
                 likes_topic: str = "live.likes", gifts_topic: str = "live.gifts",
                 merge_ms: int = 200, clock: Callable[[], int] = _now_ms,
                 registry: SchemaRegistry | None = None, **kafka_config: Any) -> None:
        self.likes_topic, self.gifts_topic = likes_topic, gifts_topic
        self.merge_ms = merge_ms
        self.clock = clock
        self.registry = registry or SchemaRegistry()
        self._like_schema = self.registry.schema("LikeEvent")
        self._gift_schema = self.registry.schema("GiftEvent")
        config = {"acks": "all", "enable_idempotence": True, "linger_ms": 5,
                  "bootstrap_servers": bootstrap_servers, **kafka_config}
        self._producer = KafkaProducer(**config)
        self._lock = threading.Lock()
        self._errors: list[tuple[str, BaseException]] = []
        # (room, user) -> [event_id, count, ts of the first tap, clock when the merge opened]
        self._merging: dict[tuple[int, int], list] = {}
        self._closed = threading.Event()
        self._flusher = None
        if merge_ms > 0:
            self._flusher = threading.Thread(target=self._flush_merged_loop, daemon=True,
                                             name="counter-producer-merge")
            self._flusher.start()

    # --- the app's calls ------------------------------------------------------------------

    def like(self, room_id: int, user_id: int, count: int = 1, *, ts: int | None = None,
             event_id: str | None = None) -> None:
        """Publish ``count`` likes (taps) of ``user_id`` in ``room_id``."""
        now = self.clock()
        ts = now if ts is None else ts
        _refuse_invalid("LikeEvent", like_record(event_id or _AN_ID, room_id, user_id, count,
                                                 ts), now)
        if self.merge_ms <= 0 or event_id is not None:
            self._send_like(event_id or uuid.uuid4().hex, room_id, user_id, count, ts)
            return
        with self._lock:
            m = self._merging.get((room_id, user_id))
            if m is not None and m[1] + count <= MAX_COUNT and now - m[3] < self.merge_ms:
                m[1] += count
                return
            if m is not None:
                del self._merging[(room_id, user_id)]
                self._send_like(m[0], room_id, user_id, m[1], m[2])
            self._merging[(room_id, user_id)] = [uuid.uuid4().hex, count, ts, now]

    def gift(self, room_id: int, user_id: int, gift_id: int, quantity: int, unit_value: int, *,
             ts: int | None = None, event_id: str | None = None) -> str:
        """Publish a gift; returns its event id (resend with the same id after an error)."""
        now = self.clock()
        event_id = event_id or uuid.uuid4().hex
        record = gift_record(event_id, room_id, user_id, gift_id, quantity, unit_value,
                             now if ts is None else ts)
        _refuse_invalid("GiftEvent", record, now)
        self.send_raw(self.gifts_topic, room_id, self.registry.encode(record, self._gift_schema),
                      event_id)
        return event_id

    def send_raw(self, topic: str, room_id: int | None, value: bytes, label: str = "") -> None:
        """Send already-encoded bytes keyed by room (tools and tests use it for bad input)."""
        key = str(room_id).encode("ascii") if room_id is not None else None
        try:
            fut = self._producer.send(topic, key=key, value=value)
        except KafkaError as exc:  # e.g. no metadata for the topic within max_block_ms
            raise ProduceError([(label, exc)]) from exc
        fut.add_errback(lambda exc: self._record_error(label, exc))

    def flush(self, timeout: float | None = None) -> None:
        """Send merged likes, wait for every acknowledgement; raise ProduceError if any failed."""
        self._flush_merged(force=True)
        self._producer.flush(timeout=timeout)
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise ProduceError(errors)

    def close(self, timeout: float | None = None) -> None:
        try:
            self.flush(timeout)
        finally:
            self._closed.set()
            self._producer.close(timeout=timeout)

    def __enter__(self) -> CounterProducer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------

    def _send_like(self, event_id: str, room_id: int, user_id: int, count: int, ts: int) -> None:
        record = like_record(event_id, room_id, user_id, count, ts)
        self.send_raw(self.likes_topic, room_id, self.registry.encode(record, self._like_schema),
                      event_id)

    def _record_error(self, label: str, exc: BaseException) -> None:
        log.error("event %s not acknowledged: %r", label, exc)
        with self._lock:
            self._errors.append((label, exc))

    def _flush_merged(self, force: bool) -> None:
        cutoff = self.clock() - self.merge_ms
        with self._lock:
            due = [(k, m) for k, m in self._merging.items() if force or m[3] <= cutoff]
            for k, m in due:
                del self._merging[k]
                self._send_like(m[0], k[0], k[1], m[1], m[2])

    def _flush_merged_loop(self) -> None:
        while not self._closed.wait(self.merge_ms / 4000):
            self._flush_merged(force=False)


# the ids the producer makes itself (uuid4 hex) are valid: the stand-in for one when likes
# are checked before their merged event has an id
_AN_ID = "0" * 32


def _refuse_invalid(record_name: str, record: dict, now_ms: int) -> None:
    """ValueError with the job's reason (``connectors.events.validate``) for a record the job
    would dead-letter."""
    verdict = validate(record_name, record, now_ms)
    if isinstance(verdict, Invalid):
        raise ValueError(verdict.reason)
