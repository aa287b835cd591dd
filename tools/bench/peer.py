"""The benchmark's Python peers: the counting job as a Python team would write it without Flink.

``run_kafka_python_peer``: one kafka-python consumer decodes the single-object Avro with the
project's codec, validates with the job's rules, drops repeated event ids with a set, merges
counter deltas in dicts and, every ``flush_every_s``, writes them with cassandra-driver, then
commits the Kafka offsets. The Quix Streams peer (``tools/bench/quix_peer.py``) is the
same job on Quix Streams and shares this module's writer and merge.

Both are **at-least-once**, as such code usually is: deltas are written before the offsets
are committed, so a crash between the two (or a write that fails half way) replays the
messages since the last commit and counts them again. No fault is injected in the benchmark,
so their tables come out exact; they would not survive the fault harness.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from connectors.avro_codec import SchemaRegistry
from connectors.cassandra_counters import day_partition, timestamp_of
from connectors.counter_rows import COLUMNS, DUPLICATE, GIFTS, TOTALS, WINDOWS, RowKey, rows_of
from connectors.events import GIFT, LIKE, Event, Invalid, read_event

log = logging.getLogger(__name__)

DEFAULT_REPLICATION = {"class": "SimpleStrategy", "replication_factor": "1"}
WRITE_CONCURRENCY = 128       # counter UPDATEs in flight
WRITE_TIMEOUT_S = 60.0        # per request: a busy single node takes seconds for a burst
LOG_APPEND_TIME = 1           # kafka-python's ConsumerRecord.timestamp_type for LogAppendTime

Deltas = dict[RowKey, list[int]]


@dataclass(frozen=True)
class PeerResult:
    """What a peer did. ``seconds`` runs from the first poll that returned messages to the
    end of the last write, ``write_seconds`` of it were spent waiting for Cassandra;
    ``events_per_s`` is ``messages / seconds`` (all messages consumed, bad ones and repeats
    included, as the job's figures count them)."""

    peer: str
    messages: int
    counted: int
    invalid: int
    duplicates: int
    rows_written: int
    seconds: float
    write_seconds: float = 0.0
    late_dropped: int = 0     # late events a window had already dropped (Quix only)

    @property
    def events_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"events_per_s": round(self.events_per_s, 1)}


# --- pure parts ---------------------------------------------------------------------------

def add_delta(deltas: Deltas, row: RowKey, values: Sequence[int]) -> None:
    """Merge ``values`` into the pending delta of ``row``."""
    have = deltas.get(row)
    if have is None:
        deltas[row] = list(values)
    else:
        for i, v in enumerate(values):
            have[i] += v


class Aggregate:
    """Counter deltas merged since the last ``drain``, and every event id seen.

    An id is counted once, the first time it is seen; a repeat only adds to its room's
    ``room_totals.duplicates``. Ids are remembered for the whole run (the job forgets them
    after its 2-hour horizon; here memory grows with the ids: about 200 bytes each).
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.seen: set[tuple[str, str]] = set()
        self.pending: Deltas = {}
        self.counted = 0
        self.duplicates = 0

    def add(self, event: Event) -> bool:
        """Count ``event``; False when its id was seen before (a duplicate)."""
        key = (event.kind, event.event_id)
        if key in self.seen:
            self.duplicates += 1
            add_delta(self.pending, (TOTALS, event.room_id, 0), DUPLICATE)
            return False
        self.seen.add(key)
        self.counted += 1
        for row, values in rows_of(event, self.window_ms):
            add_delta(self.pending, row, values)
        return True

    def drain(self) -> Deltas:
        """The merged deltas since the last drain; afterwards nothing is pending."""
        out, self.pending = self.pending, {}
        return out


# --- Cassandra ----------------------------------------------------------------------------

class CounterWriter:
    """Prepared ``UPDATE ... SET c = c + ?`` statements for the three counter tables, sent
    ``concurrency`` requests at a time, each with ``timeout_s``: one statement per request
    (``rows_per_batch=1``), or that many rows in one counter BATCH (rows of any partitions:
    one request and one commit-log sync for all of them).

    ``write`` raises on the first failed request; the other rows may or may not have been
    applied (nothing is re-read: the caller does not commit, and a replay counts them again).
    """

    def __init__(self, session, keyspace: str, concurrency: int = WRITE_CONCURRENCY,
                 timeout_s: float = WRITE_TIMEOUT_S, rows_per_batch: int = 1) -> None:
        from cassandra import ConsistencyLevel
        from cassandra.cluster import EXEC_PROFILE_DEFAULT

        self.session = session
        self.concurrency = concurrency
        self.rows_per_batch = rows_per_batch
        self.profile = session.execution_profile_clone_update(EXEC_PROFILE_DEFAULT,
                                                              request_timeout=timeout_s)
        sets = {t: ", ".join(f"{c} = {c} + ?" for c in cols) for t, cols in COLUMNS.items()}
        self.update = {
            TOTALS: session.prepare(f"UPDATE {keyspace}.{TOTALS} SET {sets[TOTALS]} "
                                    "WHERE room_id = ?"),
            WINDOWS: session.prepare(f"UPDATE {keyspace}.{WINDOWS} SET {sets[WINDOWS]} "
                                     "WHERE room_id = ? AND day = ? AND window_start = ?"),
            GIFTS: session.prepare(f"UPDATE {keyspace}.{GIFTS} SET {sets[GIFTS]} "
                                   "WHERE room_id = ? AND gift_id = ?"),
        }
        for stmt in self.update.values():
            stmt.consistency_level = ConsistencyLevel.LOCAL_QUORUM  # as the job writes
        self._window_keys: dict[int, tuple[dt.date, dt.datetime]] = {}

    def _statements(self, deltas: Mapping[RowKey, Sequence[int]]) -> Iterable[tuple]:
        for (table, room, sub), values in deltas.items():
            if table == TOTALS:
                yield self.update[TOTALS], (*values, room)
            elif table == WINDOWS:
                keys = self._window_keys.get(sub)
                if keys is None:
                    keys = self._window_keys[sub] = (day_partition(sub), timestamp_of(sub))
                yield self.update[WINDOWS], (*values, room, *keys)
            else:
                yield self.update[GIFTS], (*values, room, sub)

    def _requests(self, deltas: Mapping[RowKey, Sequence[int]]) -> Iterable[tuple]:
        if self.rows_per_batch <= 1:
            yield from self._statements(deltas)
            return
        from cassandra.query import BatchStatement, BatchType

        def batch() -> BatchStatement:
            return BatchStatement(batch_type=BatchType.COUNTER,
                                  consistency_level=self.update[TOTALS].consistency_level)

        current = batch()
        for stmt, params in self._statements(deltas):
            current.add(stmt, params)
            if len(current) >= self.rows_per_batch:
                yield current, None
                current = batch()
        if len(current):
            yield current, None

    def write(self, deltas: Mapping[RowKey, Sequence[int]]) -> int:
        """Add ``deltas`` to their rows; the number of rows written."""
        from cassandra.concurrent import execute_concurrent

        if not deltas:
            return 0
        execute_concurrent(self.session, self._requests(deltas),
                           concurrency=self.concurrency, raise_on_first_error=True,
                           results_generator=False, execution_profile=self.profile)
        return len(deltas)


def open_keyspace(hosts: Sequence[str], keyspace: str,
                  replication: Mapping[str, object] = DEFAULT_REPLICATION):
    """(cluster, session) with the keyspace and counter tables created (the project's
    migration, idempotent). Shut the cluster down when done."""
    from connectors.cassandra_counters import connect_cluster
    from connectors.cassandra_schema import migrate

    cluster = connect_cluster(list(hosts))
    try:
        session = cluster.connect()
        migrate(session, keyspace, replication)
    except Exception:
        cluster.shutdown()
        raise
    return cluster, session


# --- the kafka-python peer ----------------------------------------------------------------

def _wait_for_partitions(consumer: Any, topics: list[str], timeout_s: float) -> None:
    """Wait until ``consumer`` knows the partitions of every topic. A consumer that joins its
    group before then is assigned no partitions of the topic (kafka-python's assignor logs
    "No partition metadata") and sees no message until its next metadata refresh, minutes
    later. Raises TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    missing = list(topics)
    while missing:
        missing = [t for t in missing if not consumer.partitions_for_topic(t)]
        if missing and time.monotonic() > deadline:
            raise TimeoutError(f"no partition metadata for {missing} after {timeout_s:.0f} s")
        if missing:
            time.sleep(0.2)


def run_kafka_python_peer(bootstrap: str, likes_topic: str, gifts_topic: str,
                          cassandra_hosts: list[str], keyspace: str, window_ms: int,
                          total_messages: int,
                          progress: Callable[[int], None] | None = None,
                          flush_every_s: float = 1.0, *, group_id: str | None = None,
                          check_crcs: bool = False, rows_per_batch: int = 1,
                          replication: Mapping[str, object] = DEFAULT_REPLICATION,
                          idle_timeout_s: float = 60.0) -> PeerResult:
    """Count ``total_messages`` messages of the two topics (from the earliest offset, a fresh
    consumer group unless ``group_id`` is given) into the counter tables of ``keyspace``.

    Every ``flush_every_s`` the merged deltas are written, then the offsets of the messages
    they hold are committed: at-least-once (a crash or failed write in between counts the
    messages since the last commit twice). Bad messages are skipped and counted, not
    dead-lettered. ``check_crcs=False``: kafka-python checks record-batch CRCs in pure Python
    (without the optional ``crc32c`` package), a cost a throughput-minded team turns off.
    ``rows_per_batch``: see ``CounterWriter``. Raises TimeoutError when no message arrives
    for ``idle_timeout_s`` before ``total_messages`` were consumed.
    """
    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndMetadata

    group_id = group_id or f"peer-kafka-python-{uuid.uuid4().hex[:12]}"
    cluster, session = open_keyspace(cassandra_hosts, keyspace, replication)
    registry = SchemaRegistry()
    kind_of = {likes_topic: LIKE, gifts_topic: GIFT}
    agg = Aggregate(window_ms)
    writer = CounterWriter(session, keyspace, rows_per_batch=rows_per_batch)
    offsets: dict[Any, OffsetAndMetadata] = {}
    consumed = invalid = rows_written = 0
    write_seconds = 0.0
    t0: float | None = None
    consumer: KafkaConsumer | None = None

    def flush() -> None:
        nonlocal rows_written, last_flush, write_seconds
        started = time.monotonic()
        rows_written += writer.write(agg.drain())
        write_seconds += time.monotonic() - started
        if offsets:
            consumer.commit(dict(offsets))
        last_flush = time.monotonic()

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group_id,
            auto_offset_reset="earliest", enable_auto_commit=False,
            fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_min_bytes=1024 * 1024, fetch_max_wait_ms=100, max_poll_records=20_000,
            receive_buffer_bytes=4 * 1024 * 1024, check_crcs=check_crcs,
            max_poll_interval_ms=600_000)
        _wait_for_partitions(consumer, [likes_topic, gifts_topic], idle_timeout_s)
        consumer.subscribe([likes_topic, gifts_topic])
        last_flush = last_progress = last_message = time.monotonic()
        while consumed < total_messages:
            batches = consumer.poll(timeout_ms=200)
            now = time.monotonic()
            wall_ms = int(time.time() * 1000)
            if not batches:
                if now - last_message > idle_timeout_s:
                    raise TimeoutError(f"no message for {idle_timeout_s:.0f} s after "
                                       f"{consumed} of {total_messages}")
            else:
                last_message = now
                if t0 is None:
                    t0 = now
            for tp, records in batches.items():
                topic_kind = kind_of[tp.topic]
                last = None
                for r in records:
                    if consumed == total_messages:
                        break
                    consumed += 1
                    last = r
                    clock = r.timestamp if r.timestamp_type == LOG_APPEND_TIME and r.timestamp \
                        else wall_ms
                    event = read_event(registry, r.value, tp.topic, topic_kind, clock)
                    if isinstance(event, Invalid):
                        invalid += 1
                    else:
                        agg.add(event)
                if last is not None:
                    offsets[tp] = OffsetAndMetadata(last.offset + 1, "", -1)
            if time.monotonic() - last_flush >= flush_every_s:
                flush()
            if progress and now - last_progress >= 1.0:
                last_progress = now
                progress(consumed)
        flush()
        seconds = time.monotonic() - (t0 if t0 is not None else time.monotonic())
    finally:
        if consumer is not None:
            consumer.close(autocommit=False)
        cluster.shutdown()
    if progress:
        progress(consumed)
    result = PeerResult("kafka-python", consumed, agg.counted, invalid, agg.duplicates,
                        rows_written, seconds, write_seconds)
    log.info("kafka-python peer: %s", result.as_dict())
    return result
