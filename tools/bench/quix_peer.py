"""The counting job written with Quix Streams 3 (the benchmark's second Python peer).

Runs in its own venv (``tools/bench/quix_venv.py``; quixstreams is not installed in
the project venv) as ``python -m tools.bench.quix_peer ...`` and prints, on stdout,
``topics <json>`` (its internal topics, for clean-up), ``progress <messages>`` about once a
second and ``result <json>`` at the end. ``quix_venv.run_quix_peer`` starts and reads it.

The app: one dataframe per topic decodes and validates (the project's codec and rules; bad
messages are filtered out and counted), the two are concatenated, a stateful step marks
repeated event ids (Quix state per room key, event-time TTL of 2 hours), and a tumbling
window per room (``window_ms``) sums likes, gift_count, gift_value, events and duplicates and
reduces gifts by gift id. ``.current()`` emits a window's running sums after every message;
the sink keeps the latest per window and, on each checkpoint (every ``flush_every_s``), writes
the difference to what it wrote before: the window's row in ``room_windows``, and the same
differences summed into ``room_totals`` and ``room_gifts`` (both are sums over windows), with
``peer.CounterWriter`` (one UPDATE per row, or counter batches with ``--rows-per-batch``).
Offsets are committed after the sink flushed: at-least-once.

Where it differs from the job:
- a window that expired (event time more than ``GRACE_MS`` behind the newest event of its
  room) drops a late event, and its count is lost (counted as ``late_dropped``); the job
  counts late events of any age. The grace is 2 hours here, above the workload's lateness.
- the repeat check is per room key and its horizon runs in event time, not processing time.
- the sink's memory of what it wrote per window is not in Quix state: after a restart, the
  first result of each restored window is written whole again (counted twice).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from connectors.avro_codec import SchemaRegistry
from connectors.counter_rows import GIFTS, TOTALS, WINDOWS
from connectors.events import GIFT, LIKE, Invalid, read_event
from jobs.counters.settings import Settings
from tools.bench.peer import CounterWriter, Deltas, add_delta, open_keyspace

log = logging.getLogger(__name__)

GRACE_MS = 2 * 3_600_000
DEDUP_TTL = timedelta(hours=2)
SUMS = ("likes", "gift_count", "gift_value", "events", "duplicates")


# --- pure parts (tested without quixstreams) ----------------------------------------------

def event_value(kind: str, event_id: str, room_id: int, gift_id: int, likes: int,
                gift_count: int, gift_value: int, ts: int) -> dict[str, Any]:
    """The value a valid event carries through the app (JSON-serialisable)."""
    return {"kind": kind, "event_id": event_id, "room_id": room_id, "gift_id": gift_id,
            "likes": likes, "gift_count": gift_count, "gift_value": gift_value, "ts": ts,
            "events": 1, "duplicates": 0}


def as_repeat(value: dict[str, Any]) -> dict[str, Any]:
    """A repeated event: adds nothing but one duplicate to its room's totals."""
    return value | {"likes": 0, "gift_count": 0, "gift_value": 0, "events": 0,
                    "duplicates": 1, "gift_id": 0}


def gifts_init(value: dict[str, Any]) -> dict[str, list[int]]:
    """Gift counts and values by gift id (a string: window state is JSON)."""
    return gifts_add({}, value)


def gifts_add(acc: dict[str, list[int]], value: dict[str, Any]) -> dict[str, list[int]]:
    if value["gift_count"]:
        g = acc.setdefault(str(value["gift_id"]), [0, 0])
        g[0] += value["gift_count"]
        g[1] += value["gift_value"]
    return acc


@dataclass
class WindowDeltas:
    """Turns running window results (``.current()``) into counter deltas.

    ``update`` keeps the newest result of each (room, window start); ``drain`` returns, for
    every window updated since, its difference to what was drained before, as deltas of the
    window's ``room_windows`` row and of its room's ``room_totals`` and ``room_gifts`` rows.
    """

    latest: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    written: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def update(self, room: int, start: int, result: dict[str, Any]) -> None:
        self.latest[(room, start)] = result

    def drain(self) -> Deltas:
        deltas: Deltas = {}
        for (room, start), new in self.latest.items():
            old = self.written.get((room, start))
            d = [new[c] - (old[c] if old else 0) for c in SUMS]
            if any(d):
                add_delta(deltas, (TOTALS, room, 0), d)
            if any(d[:3]):
                add_delta(deltas, (WINDOWS, room, start), d[:3])
            old_gifts = old["gifts"] if old else {}
            for gid, (count, value) in (new.get("gifts") or {}).items():
                was = old_gifts.get(gid, (0, 0))
                if count != was[0] or value != was[1]:
                    add_delta(deltas, (GIFTS, room, int(gid)), [count - was[0], value - was[1]])
            # a copy: a result must not change under us if Quix hands out live objects
            self.written[(room, start)] = {**{c: new[c] for c in SUMS},
                                           "gifts": {g: list(v) for g, v in
                                                     (new.get("gifts") or {}).items()}}
        self.latest = {}
        return deltas


@dataclass
class Counts:
    messages: int = 0
    counted: int = 0
    invalid: int = 0
    duplicates: int = 0
    late_dropped: int = 0
    rows_written: int = 0
    write_seconds: float = 0.0
    first_message: float | None = None
    last_write_done: float | None = None


# --- the app ------------------------------------------------------------------------------

def run(args: argparse.Namespace, emit: Callable[[str], None]) -> Counts:
    """Build and run the app until ``args.total_messages`` messages were processed."""
    from quixstreams import Application
    from quixstreams.dataframe.windows.aggregations import Reduce, Sum
    from quixstreams.models.topics import TopicAdmin, TopicManager
    from quixstreams.sinks import BaseSink

    counts = Counts()
    registry = SchemaRegistry()
    cluster, session = open_keyspace(args.cassandra_hosts.split(","), args.keyspace)
    writer = CounterWriter(session, args.keyspace, rows_per_batch=args.rows_per_batch)

    class PrefixedTopicManager(TopicManager):
        """Internal (changelog) topics get a prefix, so that runs on a shared broker can be
        told apart and removed."""

        def _internal_name(self, topic_type, topic_name, suffix):
            return args.internal_topic_prefix + super()._internal_name(topic_type, topic_name,
                                                                        suffix)

    class PeerApplication(Application):
        def _setup_signal_handlers(self) -> None:
            # Quix stops silently on SIGTERM/SIGINT: say so, a short run must be explained
            super()._setup_signal_handlers()
            for sig in (signal.SIGTERM, signal.SIGINT):
                quix_handler = signal.getsignal(sig)

                def handler(signum, frame, quix_handler=quix_handler) -> None:
                    log.warning("received %s after %d messages: stopping",
                                signal.Signals(signum).name, counts.messages)
                    quix_handler(signum, frame)
                signal.signal(sig, handler)

    class CounterSink(BaseSink):
        """Counter deltas of the window results since the last checkpoint, written on flush."""

        def __init__(self) -> None:
            super().__init__()
            self.windows = WindowDeltas()

        def add(self, value, key, timestamp, headers, topic, partition, offset):
            self.windows.update(int(key), value["start"], value)

        def flush(self) -> None:
            started = time.monotonic()
            counts.rows_written += writer.write(self.windows.drain())
            counts.last_write_done = time.monotonic()
            counts.write_seconds += counts.last_write_done - started

    topics = PrefixedTopicManager(topic_admin=TopicAdmin(broker_address=args.bootstrap),
                                  consumer_group=args.group_id)
    app = PeerApplication(
        broker_address=args.bootstrap, consumer_group=args.group_id,
        auto_offset_reset="earliest", commit_interval=args.flush_every_s,
        state_dir=args.state_dir, use_changelog_topics=args.changelog, loglevel="WARNING",
        topic_manager=topics, on_message_processed=lambda topic, partition, offset: processed())

    last_progress = [time.monotonic()]

    def processed() -> None:
        counts.messages += 1
        if counts.first_message is None:
            counts.first_message = time.monotonic()
        if counts.messages >= args.total_messages:
            app.stop()
        if counts.messages % 1000 == 0 and time.monotonic() - last_progress[0] >= 1:
            last_progress[0] = time.monotonic()
            emit(f"progress {counts.messages}")

    def decoder(kind: str, topic_name: str) -> Callable[..., dict[str, Any] | None]:
        def decode(value: bytes | None, key: Any, timestamp: int, headers: Any):
            # the "1 hour ahead" clock: the message's timestamp (the broker's append time on
            # the project's topics)
            event = read_event(registry, value, topic_name, kind, timestamp)
            if isinstance(event, Invalid):
                counts.invalid += 1
                return None
            return event_value(event.kind, event.event_id, event.room_id, event.gift_id,
                               event.likes, event.gift_count, event.gift_value, event.ts)
        return decode

    def is_event(value: dict[str, Any] | None) -> bool:
        return value is not None

    def first_seen(value: dict[str, Any], state) -> dict[str, Any]:
        seen_key = value["kind"][0] + value["event_id"]
        if state.exists(seen_key):
            counts.duplicates += 1
            return as_repeat(value)
        state.set(seen_key, 1, ttl=DEDUP_TTL)
        counts.counted += 1
        return value

    def event_time(value: dict[str, Any], key: Any, timestamp: int, headers: Any) -> int:
        return value["ts"]

    def late(*_: Any) -> bool:
        counts.late_dropped += 1
        return False

    def topic(name: str):
        return app.topic(name, key_deserializer="bytes", value_deserializer="bytes")

    likes = app.dataframe(topic(args.likes_topic)).apply(decoder(LIKE, args.likes_topic),
                                                            metadata=True)
    gifts = app.dataframe(topic(args.gifts_topic)).apply(decoder(GIFT, args.gifts_topic),
                                                            metadata=True)
    sdf = likes.concat(gifts).filter(is_event)
    sdf = sdf.apply(first_seen, stateful=True).set_timestamp(event_time)
    sdf = (sdf.tumbling_window(duration_ms=args.window_ms, grace_ms=GRACE_MS, on_late=late)
           .agg(likes=Sum("likes"), gift_count=Sum("gift_count"), gift_value=Sum("gift_value"),
                events=Sum("events"), duplicates=Sum("duplicates"),
                gifts=Reduce(reducer=gifts_add, initializer=gifts_init))
           .current())
    sdf.sink(CounterSink())

    emit("topics " + json.dumps([t.name for t in topics.changelog_topics_list]))
    try:
        app.run()
    finally:
        cluster.shutdown()
    return counts


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.bench.quix_peer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--likes-topic", required=True)
    p.add_argument("--gifts-topic", required=True)
    p.add_argument("--cassandra-hosts", required=True, help="comma-separated")
    p.add_argument("--keyspace", required=True)
    p.add_argument("--window-ms", type=int, default=Settings().window_ms)
    p.add_argument("--total-messages", type=int, required=True)
    p.add_argument("--flush-every-s", type=float, default=1.0)
    p.add_argument("--group-id", required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--internal-topic-prefix", default="")
    p.add_argument("--rows-per-batch", type=int, default=1,
                   help="counter rows per request (1: one UPDATE per row)")
    p.add_argument("--no-changelog", dest="changelog", action="store_false",
                   help="keep state in local RocksDB only (no changelog topics)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args = parse(argv)

    def emit(line: str) -> None:
        print(line, flush=True)

    counts = run(args, emit)
    end = counts.last_write_done or time.monotonic()
    seconds = end - counts.first_message if counts.first_message is not None else 0.0
    emit("result " + json.dumps({
        "messages": counts.messages, "counted": counts.counted, "invalid": counts.invalid,
        "duplicates": counts.duplicates, "late_dropped": counts.late_dropped,
        "rows_written": counts.rows_written, "write_seconds": counts.write_seconds,
        "seconds": seconds}))
    if counts.messages < args.total_messages:
        log.error("the app stopped after %d of %d messages", counts.messages,
                  args.total_messages)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
