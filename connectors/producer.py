"""The producer library apps use to publish likes and gifts.

    from live_counters_producer import CounterProducer      # pip install (docs/app-developers.md)

    with CounterProducer("kafka:9092") as p:
        p.like(room_id=42, user_id=7)                   # merged with the user's next taps
        p.gift(room_id=42, user_id=7, gift_id=3, quantity=2, unit_value=500,
               on_delivery=print)                       # the outcome of this one call
    # leaving the block flushes: every event is acknowledged by Kafka (acks=all) or raised

(In this repository the same modules are ``connectors.producer`` and its neighbours.)

Guarantees: an idempotent producer with ``acks=all``, keyed by room id (ASCII decimal), so
one room's events stay in one partition and in order. Every event carries a unique
``event_id`` (the job counts an id once), so resending after an error never double counts.
Send errors are not swallowed: a send Kafka refuses at once raises ``ProduceError`` at the
call; any other failure, a merged like's included, is raised by the next ``flush()`` (and by
leaving the ``with`` block). Either way ``ProduceError.failed`` holds each event as it was
encoded, for ``resend()``. A call's ``on_delivery`` callback gets its ``Delivery`` (error None
once Kafka acknowledged the event) on the producer's I/O thread. Rapid likes of one user in
one room within ``merge_ms`` are sent as one event whose ``count`` is their sum ("10 likes in
3 s"), and each tap's callback gets that event's outcome; ``merge_ms=0`` turns merging off.
A background thread sends merged likes; it survives every error, and no call waits for
another's send (a send blocks up to ``max_block_ms`` while Kafka has no metadata for a topic).

Apps with a Kafka producer of their own encode events with ``encode_like``/``encode_gift``
and send ``key`` and ``value`` to the event's topic (docs/app-developers.md).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer

# relative: these modules are also the producer library an app installs on its own
# (connectors/producer_library: the package live_counters_producer)
from .avro_codec import SchemaRegistry
from .events import MAX_COUNT, Invalid, gift_record, like_record, validate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedEvent:
    """An event Kafka did not take or did not acknowledge.

    ``value`` is the encoded event with its ``event_id``: ``CounterProducer.resend`` sends
    exactly it again, and the job counts an id once, so a resend never double counts.
    ``record`` is the event's fields (for a merged like, the merged ``count``).
    """

    event_id: str
    topic: str
    room_id: int | None
    value: bytes
    record: dict[str, Any] | None
    error: BaseException


class ProduceError(RuntimeError):
    """Events Kafka did not take or acknowledge.

    ``failed`` holds a ``FailedEvent`` for each (resend them with ``CounterProducer.resend``);
    ``errors`` the same as (event_id, exception) pairs.
    """

    def __init__(self, failed: list[FailedEvent]) -> None:
        super().__init__(f"{len(failed)} events not acknowledged; first: {failed[0].error!r}")
        self.failed = failed

    @property
    def errors(self) -> list[tuple[str, BaseException]]:
        return [(f.event_id, f.error) for f in self.failed]


@dataclass(frozen=True)
class Delivery:
    """The outcome of one call: ``error`` None once Kafka acknowledged its event. For a
    merged like, the outcome of the event its taps were merged into (``record["count"]``)."""

    event_id: str
    topic: str
    room_id: int | None
    record: dict[str, Any] | None
    error: BaseException | None


OnDelivery = Callable[[Delivery], None]


@dataclass(frozen=True)
class Encoded:
    """One event, encoded for any Kafka producer: send ``value`` with ``key`` to the event's
    topic (``live.likes`` or ``live.gifts`` by default)."""

    event_id: str
    key: bytes
    value: bytes
    record: dict[str, Any]


@functools.cache
def _default_registry() -> SchemaRegistry:
    return SchemaRegistry()  # the schemas, read once


def _registry(registry: SchemaRegistry | None) -> SchemaRegistry:
    return registry if registry is not None else _default_registry()


def encode_like(room_id: int, user_id: int, count: int = 1, *, ts: int | None = None,
                event_id: str | None = None, registry: SchemaRegistry | None = None,
                now_ms: int | None = None) -> Encoded:
    """``count`` likes of ``user_id`` in ``room_id`` as the job reads them; ValueError with the
    job's reason for a like it would dead-letter (``now_ms``: the clock its "1 hour ahead"
    rule reads, default this machine's). Keep ``event_id`` to resend it."""
    now = _now_ms() if now_ms is None else now_ms
    record = like_record(event_id or uuid.uuid4().hex, room_id, user_id, count,
                         now if ts is None else ts)
    _refuse_invalid("LikeEvent", record, now)
    reg = _registry(registry)
    return Encoded(record["event_id"], _key(room_id),
                   reg.encode(record, reg.schema("LikeEvent")), record)


def encode_gift(room_id: int, user_id: int, gift_id: int, quantity: int, unit_value: int, *,
                ts: int | None = None, event_id: str | None = None,
                registry: SchemaRegistry | None = None, now_ms: int | None = None) -> Encoded:
    """A gift as the job reads it; ValueError with the job's reason for a gift it would
    dead-letter (``now_ms`` as for ``encode_like``). Keep ``event_id`` to resend it."""
    now = _now_ms() if now_ms is None else now_ms
    record = gift_record(event_id or uuid.uuid4().hex, room_id, user_id, gift_id, quantity,
                         unit_value, now if ts is None else ts)
    _refuse_invalid("GiftEvent", record, now)
    reg = _registry(registry)
    return Encoded(record["event_id"], _key(room_id),
                   reg.encode(record, reg.schema("GiftEvent")), record)


def _key(room_id: int | None) -> bytes | None:
    return str(room_id).encode("ascii") if room_id is not None else None


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Merge:
    """Likes of one user in one room being merged into one event."""

    event_id: str
    count: int
    ts: int          # the first tap's time
    opened: int      # the clock when the merge opened
    callbacks: list[OnDelivery]  # each merged tap's, told the merged event's outcome


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
        config = {"acks": "all", "enable_idempotence": True, "linger_ms": 5,
                  "bootstrap_servers": bootstrap_servers, **kafka_config}
        self._producer = KafkaProducer(**config)
        # guards _merging, _failed and _handing_over; held only for dictionary work, never
        # across a send (a send can block for max_block_ms waiting for metadata)
        self._lock = threading.Condition()
        self._failed: list[FailedEvent] = []
        self._merging: dict[tuple[int, int], _Merge] = {}
        # merged likes taken out of _merging whose send() has not returned yet: flush()
        # waits for them, or it could return before they are even in the producer
        self._handing_over = 0
        self._closed = threading.Event()
        self._flusher = None
        if merge_ms > 0:
            self._flusher = threading.Thread(target=self._flush_merged_loop, daemon=True,
                                             name="counter-producer-merge")
            self._flusher.start()

    # --- the app's calls ------------------------------------------------------------------

    def like(self, room_id: int, user_id: int, count: int = 1, *, ts: int | None = None,
             event_id: str | None = None, on_delivery: OnDelivery | None = None) -> None:
        """Publish ``count`` likes (taps) of ``user_id`` in ``room_id``; ``on_delivery`` gets
        the outcome (of the merged event, for a merged like).

        Unmerged (``merge_ms=0`` or an ``event_id`` given): a send Kafka refuses at once
        raises ``ProduceError`` here (and ``on_delivery`` is not called). Merged: the like is
        sent within ``merge_ms``, and a failure of its merged event goes to ``on_delivery``
        and is raised by the next ``flush()``.
        """
        now = self.clock()
        ts = now if ts is None else ts
        _refuse_invalid("LikeEvent", like_record(event_id or _AN_ID, room_id, user_id, count,
                                                 ts), now)
        callbacks = [on_delivery] if on_delivery is not None else []
        if self.merge_ms <= 0 or event_id is not None:
            self._send_like(event_id or uuid.uuid4().hex, room_id, user_id, count, ts,
                            callbacks)
            return
        key = (room_id, user_id)
        with self._lock:
            m = self._merging.get(key)
            if m is not None and m.count + count <= MAX_COUNT and now - m.opened < self.merge_ms:
                m.count += count
                m.callbacks += callbacks
                return
            closed = self._take([key]) if m is not None else []
            self._merging[key] = _Merge(uuid.uuid4().hex, count, ts, now, callbacks)
        self._hand_over(closed)

    def gift(self, room_id: int, user_id: int, gift_id: int, quantity: int, unit_value: int, *,
             ts: int | None = None, event_id: str | None = None,
             on_delivery: OnDelivery | None = None) -> str:
        """Publish a gift; returns its event id (resend with the same id after an error).
        ``on_delivery`` gets the outcome; a send Kafka refuses at once raises instead."""
        now = self.clock()
        e = encode_gift(room_id, user_id, gift_id, quantity, unit_value,
                        ts=now if ts is None else ts, event_id=event_id,
                        registry=self.registry, now_ms=now)
        self._send(self.gifts_topic, room_id, e.value, e.event_id, e.record,
                   [on_delivery] if on_delivery is not None else [])
        return e.event_id

    def send_raw(self, topic: str, room_id: int | None, value: bytes, label: str = "") -> None:
        """Send already-encoded bytes keyed by room (tools and tests use it for bad input)."""
        self._send(topic, room_id, value, label, None)

    def resend(self, failed: FailedEvent) -> None:
        """Send a ``FailedEvent`` again, byte for byte (same event id: counted once); a refusal
        raises ``ProduceError`` as a first send does."""
        if not failed.value:
            raise ValueError(f"event {failed.event_id} could not be encoded: {failed.error!r}")
        self._send(failed.topic, failed.room_id, failed.value, failed.event_id, failed.record)

    def flush(self, timeout: float | None = None) -> None:
        """Send merged likes, wait for every acknowledgement; raise ProduceError if any failed
        since the last flush (merged likes included)."""
        with self._lock:
            due = self._take(list(self._merging))
        self._hand_over(due)
        with self._lock:
            if not self._lock.wait_for(lambda: self._handing_over == 0, timeout):
                raise TimeoutError(f"{self._handing_over} merged likes still being handed to "
                                   f"Kafka after {timeout} s")
        self._producer.flush(timeout=timeout)
        with self._lock:
            failed, self._failed = self._failed, []
        if failed:
            raise ProduceError(failed)

    def close(self, timeout: float | None = None) -> None:
        try:
            self.flush(timeout)
        finally:
            self._closed.set()
            if self._flusher is not None:
                self._flusher.join(timeout)
            self._producer.close(timeout=timeout)

    def __enter__(self) -> CounterProducer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------

    def _send(self, topic: str, room_id: int | None, value: bytes, event_id: str,
              record: dict[str, Any] | None, callbacks: list[OnDelivery] = ()) -> None:
        """Hand an event to the Kafka producer: ``ProduceError`` if it is refused at once
        (e.g. no metadata for the topic within max_block_ms); a later failure to be
        acknowledged is kept for ``flush()``. ``callbacks`` get the outcome."""
        try:
            fut = self._producer.send(topic, key=_key(room_id), value=value)
        except Exception as exc:
            raise ProduceError([FailedEvent(event_id, topic, room_id, value, record, exc)]
                               ) from exc

        def acknowledged(_metadata) -> None:
            _tell(callbacks, Delivery(event_id, topic, room_id, record, None))

        def not_acknowledged(exc: BaseException) -> None:
            self._keep_failed(FailedEvent(event_id, topic, room_id, value, record, exc))
            _tell(callbacks, Delivery(event_id, topic, room_id, record, exc))
        if callbacks:
            fut.add_callback(acknowledged)
        fut.add_errback(not_acknowledged)

    def _send_like(self, event_id: str, room_id: int, user_id: int, count: int, ts: int,
                   callbacks: list[OnDelivery] = ()) -> None:
        record = like_record(event_id, room_id, user_id, count, ts)
        try:
            value = self.registry.encode(record, self._like_schema)
        except Exception as exc:  # a validated like always encodes; if not, say so, keep it
            raise ProduceError([FailedEvent(event_id, self.likes_topic, room_id, b"", record,
                                            exc)]) from exc
        self._send(self.likes_topic, room_id, value, event_id, record, callbacks)

    def _keep_failed(self, failed: FailedEvent) -> None:
        log.error("event %s not acknowledged: %r", failed.event_id, failed.error)
        with self._lock:
            self._failed.append(failed)

    def _take(self, keys: list[tuple[int, int]]) -> list[tuple[tuple[int, int], _Merge]]:
        """Remove merges from _merging for sending; called with _lock held."""
        taken = [(k, self._merging.pop(k)) for k in keys]
        self._handing_over += len(taken)
        return taken

    def _hand_over(self, merges: list[tuple[tuple[int, int], _Merge]]) -> None:
        """Send merged likes without holding _lock; a failure is kept for flush()."""
        for (room_id, user_id), m in merges:
            try:
                self._send_like(m.event_id, room_id, user_id, m.count, m.ts, m.callbacks)
            except ProduceError as exc:
                for failed in exc.failed:
                    self._keep_failed(failed)
                    _tell(m.callbacks, Delivery(failed.event_id, failed.topic, room_id,
                                                failed.record, failed.error))
            finally:
                with self._lock:
                    self._handing_over -= 1
                    self._lock.notify_all()

    def _flush_merged_loop(self) -> None:
        while not self._closed.wait(self.merge_ms / 4000):
            try:
                cutoff = self.clock() - self.merge_ms
                with self._lock:
                    due = self._take([k for k, m in self._merging.items()
                                      if m.opened <= cutoff])
                self._hand_over(due)
            except Exception:  # the thread must outlive any error, or merged likes wait
                log.exception("merged likes: sending failed; retrying at the next tick")


def _tell(callbacks: list[OnDelivery], delivery: Delivery) -> None:
    """Each callback, on the producer's I/O thread; an exception in one is logged, not
    raised into the producer."""
    for cb in callbacks:
        try:
            cb(delivery)
        except Exception:
            log.exception("on_delivery callback of event %s failed", delivery.event_id)


# the ids the producer makes itself (uuid4 hex) are valid: the stand-in for one when likes
# are checked before their merged event has an id
_AN_ID = "0" * 32


def _refuse_invalid(record_name: str, record: dict, now_ms: int) -> None:
    """ValueError with the job's reason (``connectors.events.validate``) for a record the job
    would dead-letter."""
    verdict = validate(record_name, record, now_ms)
    if isinstance(verdict, Invalid):
        raise ValueError(verdict.reason)
