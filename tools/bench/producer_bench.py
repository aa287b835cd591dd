"""Scenario 7: how many events one Python process publishes through the producer library
(``connectors.producer.CounterProducer``), with and without client-side merging of likes.

The app's side is a tight loop over a seeded tap pattern (``tap_pattern``): 80% likes from a
population of users tapping repeatedly in the room they watch, 20% gifts. The clock runs
from the first call to the end of ``flush()``, when every event is acknowledged by Kafka
(``acks=all``). Then the topics are read back and checked: the ``count`` of the like
messages must add up, per room and user, to the taps made, and every gift must be there
once. A run that fails the check is reported ``exact=False`` (its rate does not count).
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from connectors.avro_codec import DecodeError, SchemaRegistry
from connectors.producer import CounterProducer, ProduceError
from tools.bench.report import (
    GIFTS,
    MERGE_RATIO,
    MESSAGES,
    MESSAGES_PER_S,
    TAPS,
    Measurement,
)

log = logging.getLogger(__name__)

SCENARIO = "7 producer library"
LIKE, GIFT = 0, 1
GIFT_PRICES = (1, 10, 52, 100, 520, 1000, 5200)


@dataclass(frozen=True)
class TapPattern:
    """The shape of the app's traffic: ``tappers`` users tap at once, each in one of ``rooms``
    rooms (low room ids are the popular ones: room ids are log-uniform); after a tap a user
    leaves with probability ``churn`` and a new one starts tapping."""

    seed: int = 1
    rooms: int = 500
    tappers: int = 2000
    like_share: float = 0.8
    churn: float = 0.01


def tap_pattern(pattern: TapPattern) -> Iterator[tuple]:
    """An endless, reproducible stream of ``(LIKE, room, user)`` and
    ``(GIFT, room, user, gift_id, quantity, unit_value)``."""
    rnd = random.Random(pattern.seed)
    rooms, share, churn = pattern.rooms, pattern.like_share, pattern.churn

    def room() -> int:
        return int(rooms ** rnd.random())

    users = itertools.count(1)
    active = [(room(), next(users)) for _ in range(pattern.tappers)]
    while True:
        if rnd.random() < share:
            i = rnd.randrange(pattern.tappers)
            r, u = active[i]
            yield LIKE, r, u
            if rnd.random() < churn:
                active[i] = (room(), next(users))
        else:
            yield (GIFT, room(), rnd.randrange(1, 10_000_000), rnd.randrange(1, 21),
                   rnd.randrange(1, 6), rnd.choice(GIFT_PRICES))


def run_producer_bench(bootstrap: str, likes_topic: str, gifts_topic: str, seconds: float,
                       merge: bool, progress: Callable[[str], None] | None = None, *,
                       pattern: TapPattern = TapPattern(),
                       merge_ms: int | None = None) -> Measurement:
    """Publish ``pattern`` for ``seconds`` from this process, flush, and check the topics.

    ``merge``: the library's merging (its default ``merge_ms`` unless given) or none
    (``merge_ms=0``: one Kafka message per tap). The topics may hold older messages: only
    what lies past their end offsets at the start is read back. ``events`` is the number of
    calls (taps and gifts); ``extra`` has the taps, gifts, Kafka messages sent, messages/s
    and the merge ratio (taps per like message).
    """
    say = progress or (lambda _msg: None)
    merging = {} if merge and merge_ms is None else {"merge_ms": merge_ms if merge else 0}
    start_offsets = _end_offsets(bootstrap, [likes_topic, gifts_topic])
    taps = gifts = 0
    errors: list[str] = []
    producer = CounterProducer(bootstrap, likes_topic=likes_topic, gifts_topic=gifts_topic,
                               **merging)
    merge_ms = producer.merge_ms
    subject = (f"CounterProducer, merging likes (merge_ms={merge_ms})" if merge_ms > 0
               else "CounterProducer, no merging (merge_ms=0)")
    try:
        say(f"producer bench ({subject}): {seconds:g} s")
        like, gift = producer.like, producer.gift
        events = tap_pattern(pattern)
        cpu0, t0 = time.process_time(), time.perf_counter()
        deadline, next_report = t0 + seconds, t0 + 1.0
        while True:
            for ev in itertools.islice(events, 512):
                if ev[0] == LIKE:
                    like(ev[1], ev[2])
                    taps += 1
                else:
                    gift(ev[1], ev[2], ev[3], ev[4], ev[5])
                    gifts += 1
            now = time.perf_counter()
            if now >= deadline:
                break
            if now >= next_report:
                say(f"  {now - t0:4.1f} s: {taps + gifts:,} calls, "
                    f"{(taps + gifts) / (now - t0):,.0f}/s")
                next_report += 1.0
        calls_done = time.perf_counter()
        try:
            producer.flush()
        except ProduceError as exc:
            errors.append(str(exc))
        elapsed = time.perf_counter() - t0
        cpu_s = time.process_time() - cpu0
    finally:
        producer.close()
    flush_s = elapsed - (calls_done - t0)
    say(f"  {taps + gifts:,} calls in {elapsed:.2f} s (flush {flush_s:.2f} s); reading back")

    check = check_topics(bootstrap, likes_topic, gifts_topic, start_offsets,
                         itertools.islice(tap_pattern(pattern), taps + gifts))
    errors += check.errors
    for e in errors[:10]:
        log.error("producer bench (%s): %s", subject, e)
    messages = check.like_messages + check.gift_messages
    extra = {TAPS: taps, GIFTS: gifts, MESSAGES: messages,
             MESSAGES_PER_S: messages / elapsed,
             MERGE_RATIO: taps / check.like_messages if check.like_messages else 0.0,
             "merge_ms": merge_ms, "flush_s": round(flush_s, 3),
             # CPU of every thread of this process over the run: well under the wall time
             # means the loop waited (GIL hand-offs to the sender thread, a busy machine)
             "cpu_s": round(cpu_s, 2),
             # what the loop would reach with a core of its own (the GIL keeps it to one)
             "calls_per_cpu_s": round((taps + gifts) / cpu_s) if cpu_s > 0 else 0}
    if errors:
        extra["errors"] = f"{len(errors)}; first: {errors[0]}"
    exact = not errors
    say(f"  {'exact' if exact else 'NOT EXACT'}: {messages:,} Kafka messages, "
        f"{extra[MERGE_RATIO]:.2f} taps per like message")
    return Measurement(SCENARIO, subject, taps + gifts, elapsed, exact, extra)


@dataclass
class TopicCheck:
    like_messages: int
    gift_messages: int
    errors: list[str]


def check_topics(bootstrap: str, likes_topic: str, gifts_topic: str,
                 start_offsets: dict[TopicPartition, int], calls: Iterator[tuple],
                 timeout_s: float = 120.0) -> TopicCheck:
    """Compare what the topics hold past ``start_offsets`` with the ``calls`` made."""
    want_likes: Counter[tuple[int, int]] = Counter()
    want_gifts: Counter[tuple] = Counter()
    for ev in calls:
        if ev[0] == LIKE:
            want_likes[ev[1], ev[2]] += 1
        else:
            want_gifts[ev[1:]] += 1

    reg = SchemaRegistry()
    got_likes: Counter[tuple[int, int]] = Counter()
    got_gifts: Counter[tuple] = Counter()
    ids: dict[str, set[str]] = {likes_topic: set(), gifts_topic: set()}
    n = {likes_topic: 0, gifts_topic: 0}
    errors: list[str] = []
    try:
        for topic, key, value in _read_from(bootstrap, start_offsets, timeout_s):
            n[topic] += 1
            try:
                name, rec = reg.decode(value)
            except DecodeError as exc:
                errors.append(f"{topic}: undecodable message: {exc}")
                continue
            if key != str(rec["room_id"]).encode("ascii"):
                errors.append(f"{topic}: key {key!r} is not room {rec['room_id']}")
            if rec["event_id"] in ids[topic]:
                errors.append(f"{topic}: event id {rec['event_id']} sent twice")
            ids[topic].add(rec["event_id"])
            if topic == likes_topic and name.endswith(".LikeEvent"):
                got_likes[rec["room_id"], rec["user_id"]] += rec["count"]
            elif topic == gifts_topic and name.endswith(".GiftEvent"):
                got_gifts[rec["room_id"], rec["user_id"], rec["gift_id"], rec["quantity"],
                          rec["unit_value"]] += 1
            else:
                errors.append(f"{topic}: unexpected {name}")
    except TimeoutError as exc:  # what was not read is reported missing below
        errors.append(str(exc))
    if got_likes != want_likes:
        wrong = {k for k in want_likes.keys() | got_likes.keys()
                 if want_likes[k] != got_likes[k]}
        errors.append(f"likes: {len(wrong)} (room, user) sums wrong; taps made "
                      f"{want_likes.total():,}, counted in Kafka {got_likes.total():,}")
    if got_gifts != want_gifts:
        errors.append(f"gifts: {(want_gifts - got_gifts).total():,} missing, "
                      f"{(got_gifts - want_gifts).total():,} extra")
    return TopicCheck(n[likes_topic], n[gifts_topic], errors)


def _end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = []
        for t in topics:
            found = consumer.partitions_for_topic(t)
            if not found:
                raise ValueError(f"topic {t} does not exist")
            parts += [TopicPartition(t, p) for p in sorted(found)]
        return consumer.end_offsets(parts)
    finally:
        consumer.close()


def _read_from(bootstrap: str, start: dict[TopicPartition, int],
               timeout_s: float) -> Iterator[tuple[str, bytes | None, bytes]]:
    """(topic, key, value) of every message from ``start`` to the end offsets as of now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             fetch_max_bytes=64 << 20, max_partition_fetch_bytes=16 << 20)
    try:
        parts = list(start)
        end = consumer.end_offsets(parts)
        todo = {tp for tp in parts if end[tp] > start[tp]}
        consumer.assign(parts)
        for tp in parts:
            consumer.seek(tp, start[tp])
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading back: {len(todo)} partitions not read to their end "
                                   f"within {timeout_s:g} s")
            for tp, msgs in consumer.poll(timeout_ms=500, max_records=50_000).items():
                for msg in msgs:
                    if msg.offset < end[tp]:
                        yield tp.topic, msg.key, msg.value
                if consumer.position(tp) >= end[tp]:
                    todo.discard(tp)
    finally:
        consumer.close()
