"""How many counter rows a second Cassandra takes here, written exactly as the job's sink
writes them (``connectors.cassandra_counters.CounterStore``: many partitions per counter batch,
only the changed columns, 64 requests in flight). Every figure of the benchmark that writes
counters is bounded by it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from connectors.cassandra_counters import CounterStore, connect_cluster
from connectors.cassandra_schema import migrate
from connectors.counter_rows import GIFTS, TOTALS, WINDOWS, Write, window_start
from jobs.counters.settings import Settings
from local_stack.addresses import CASSANDRA_HOST


@dataclass(frozen=True)
class StoreCeiling:
    rows: int
    seconds: float
    read_rows_per_s: float


def sample_writes(rows: int, now_ms: int) -> list[Write]:
    """``rows`` counter rows in the job's mix: per room a totals row (likes, events), a
    window row (likes) and a gift row (count, value)."""
    out: list[Write] = []
    room = 0
    window = window_start(now_ms, Settings().window_ms)
    while len(out) < rows:
        room += 1
        out.append(Write((TOTALS, room, 0), (5, 0, 0, 1, 0)))
        out.append(Write((WINDOWS, room, window), (5, 0, 0)))
        out.append(Write((GIFTS, room, 1 + room % 12), (2, 200)))
    return out[:rows]


def counter_write_rate(rows: int, hosts: tuple[str, ...] = (CASSANDRA_HOST,),
                       chunk: int = 5_000) -> StoreCeiling:
    """Write ``rows`` fresh rows in chunks of ``chunk`` (a sink round), read them back; a
    throwaway keyspace."""
    ks = f"bench_store_{uuid.uuid4().hex[:8]}"
    cluster = connect_cluster(hosts)
    try:
        session = cluster.connect()
        migrate(session, ks, {"class": "SimpleStrategy", "replication_factor": "1"})
        store = CounterStore(session, ks)
        writes = sample_writes(rows, int(time.time() * 1000))
        t0 = time.monotonic()
        for i in range(0, len(writes), chunk):
            store.write(writes[i:i + chunk])
        seconds = time.monotonic() - t0
        t1 = time.monotonic()
        for i in range(0, len(writes), chunk):
            store.read([w.row for w in writes[i:i + chunk]])
        read_s = time.monotonic() - t1
        session.execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)
        return StoreCeiling(rows, seconds, rows / read_s if read_s else 0.0)
    finally:
        cluster.shutdown()
