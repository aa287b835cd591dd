"""Reads and writes of the counter rows for the counting job's sink.

Rows are addressed as ``(table, room_id, sub_key)`` (``connectors/counter_rows.py``). Writes to
the rows of one partition go in one counter batch, which Cassandra applies atomically per
partition; several partitions share a batch (up to ``CELLS_PER_BATCH`` counter cells), so one
request carries many rows: on this 2-core machine that is ~4x the rows/s of one request per
partition (``scripts/bench`` measures it). A write whose outcome is unknown (timeout, lost
connection, node unavailable) is reported as ambiguous, never retried here: the caller
re-reads the rows once the write can no longer land, and only then writes again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import ssl
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.query import BatchStatement, BatchType

from connectors.counter_rows import COLUMNS, GIFTS, TOTALS, WINDOWS, RowKey, Values, Write, day_of

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64  # concurrent requests per write call
# Counter cells per batch request: more rows per request (fewer round trips, one commit log
# sync for all) until a batch gets big enough to slow every row in it (and past Cassandra's
# batch size limits: 5 KiB warn, 50 KiB fail by default; ~40 bytes a cell here).
CELLS_PER_BATCH = 120
ROOMS_PER_READ = 50  # partitions per read request (IN on the partition key)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class AmbiguousWrite(Exception):
    """Writes that may or may not have been applied: re-read their rows before writing again."""

    def __init__(self, rows: list[RowKey], cause: BaseException) -> None:
        super().__init__(f"{len(rows)} rows in doubt: {type(cause).__name__}: {cause}")
        self.rows = rows


def client_security(env: Mapping[str, str], credentials: tuple[str, str] | None = None,
                    ssl_ca: str | None = None) -> tuple[tuple[str, str] | None, str | None]:
    """Who the client logs in as and the CA file it trusts for TLS (None: plain text).

    Explicit arguments win; otherwise ``CASSANDRA_USERNAME``/``CASSANDRA_PASSWORD`` (both or
    neither) and ``CASSANDRA_SSL_CA`` (a PEM file) from ``env``, never from argv or files of
    this project (pass ``env={}`` for a client that must not pick them up)."""
    if credentials is None:
        user, password = env.get("CASSANDRA_USERNAME"), env.get("CASSANDRA_PASSWORD")
        if bool(user) != bool(password):
            raise ValueError("set both CASSANDRA_USERNAME and CASSANDRA_PASSWORD, or neither")
        credentials = (user, password) if user else None
    return credentials, ssl_ca or env.get("CASSANDRA_SSL_CA") or None


def connect_cluster(hosts: Sequence[str], port: int = 9042, connect_timeout: float = 10.0, *,
                    credentials: tuple[str, str] | None = None, ssl_ca: str | None = None,
                    env: Mapping[str, str] | None = None):
    """A cassandra-driver Cluster (not yet connected) for ``hosts``.

    Token-aware routing; credentials and TLS as ``client_security`` finds them (TLS verifies
    the node's certificate and its address against the CA). A node that went down is retried
    every 0.5 s, backing off to 5 s (the driver's default backs off to 10 minutes: a sink
    would stay idle that long after Cassandra came back).
    """

    credentials, ca = client_security(os.environ if env is None else env, credentials, ssl_ca)
    auth = PlainTextAuthProvider(*credentials) if credentials else None
    context = None
    if ca:
        if not os.path.isfile(ca):
            raise FileNotFoundError(f"CASSANDRA_SSL_CA: no such file {ca}")
        context = ssl.create_default_context(cafile=ca)  # verifies the node and its address
    profile = ExecutionProfile(load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()))
    return Cluster(list(hosts), port=port, auth_provider=auth, connect_timeout=connect_timeout,
                   protocol_version=5, execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                   reconnection_policy=ExponentialReconnectionPolicy(0.5, 5.0),
                   ssl_context=context)


def timestamp_of(ms: int) -> dt.datetime:
    """A CQL ``timestamp`` value (UTC) for epoch millis."""
    return _EPOCH + dt.timedelta(milliseconds=ms)


def millis_of(value: dt.datetime) -> int:
    """Epoch millis of a CQL ``timestamp`` as the driver returns it (naive: UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def day_partition(window_start_ms: int) -> dt.date:
    """The ``day`` partition (a CQL ``date``) of room_windows that holds a window."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=day_of(window_start_ms))


def partition_of(row: RowKey) -> tuple:
    table, room, sub = row
    return (table, room, day_of(sub)) if table == WINDOWS else (table, room)


def pack_partitions(writes: Sequence[Write], max_cells: int) -> list[list[Write]]:
    """``writes`` in groups of whole partitions (a partition's rows are never split: its
    counter updates apply atomically), each group of at most ``max_cells`` changed counter
    cells unless one partition alone has more."""
    parts: dict[tuple, list[Write]] = defaultdict(list)
    for w in writes:
        parts[partition_of(w.row)].append(w)
    groups: list[list[Write]] = []
    current: list[Write] = []
    cells = 0
    for members in parts.values():
        n = sum(sum(1 for v in w.increment if v) for w in members)
        if current and cells + n > max_cells:
            groups.append(current)
            current, cells = [], 0
        current.extend(members)
        cells += n
    if current:
        groups.append(current)
    return groups


class CounterStore:
    """Prepared reads and counter-batch writes against one keyspace.

    Writes use ``consistency`` (LOCAL_QUORUM by default). Reads and the probe use
    ``read_consistency``, ALL by default: the sink reads only to settle a doubt (a row's
    first write since start, a write of unknown outcome, a node down or back), and a counter
    write is applied by one replica, its leader, before the leader passes the new value on.
    A leader that dies (or is cut off) in between holds an increment no other replica has:
    a quorum read without it reads the write as not applied, the sink would add it again,
    and the leader's copy would count it twice once it is back. Only a read of every replica
    settles such a doubt, so while a replica is down a doubt waits for it (the sink blocks,
    backpressure) rather than guess. With one replica, ALL is that replica, as before.
    """

    def __init__(self, session, keyspace: str,
                 consistency: int = ConsistencyLevel.LOCAL_QUORUM,
                 timeout_s: float = 10.0,
                 read_consistency: int = ConsistencyLevel.ALL) -> None:
        self.session = session
        self.consistency = consistency
        self.read_consistency = read_consistency
        self.timeout_s = timeout_s
        ks = keyspace
        self.keyspace = keyspace
        cols = {t: ", ".join(c) for t, c in COLUMNS.items()}
        p = session.prepare
        # one UPDATE per table and set of changed columns, prepared when first needed: a
        # counter "+ 0" costs Cassandra a counter write like any other (most rows change in
        # one or two of their columns: a like moves likes and events only)
        self._update: dict[tuple[str, tuple[int, ...]], object] = {}
        self._read = {
            TOTALS: p(f"SELECT room_id, {cols[TOTALS]} FROM {ks}.{TOTALS} WHERE room_id IN ?"),
            WINDOWS: p(f"SELECT room_id, window_start, {cols[WINDOWS]} FROM {ks}.{WINDOWS} "
                       "WHERE room_id IN ? AND day = ? AND window_start IN ?"),
            GIFTS: p(f"SELECT room_id, gift_id, {cols[GIFTS]} FROM {ks}.{GIFTS} "
                     "WHERE room_id IN ? AND gift_id IN ?"),
        }
        self._probe = p(f"SELECT room_id FROM {ks}.{TOTALS} LIMIT 1")
        for stmt in (*self._read.values(), self._probe):
            stmt.consistency_level = read_consistency

    def _update_statement(self, table: str, changed: tuple[int, ...]):
        stmt = self._update.get((table, changed))
        if stmt is None:
            sets = ", ".join(f"{c} = {c} + ?" for c in (COLUMNS[table][i] for i in changed))
            where = {TOTALS: "room_id = ?",
                     WINDOWS: "room_id = ? AND day = ? AND window_start = ?",
                     GIFTS: "room_id = ? AND gift_id = ?"}[table]
            stmt = self.session.prepare(
                f"UPDATE {self.keyspace}.{table} SET {sets} WHERE {where}")
            stmt.consistency_level = self.consistency
            self._update[(table, changed)] = stmt
        return stmt

    def probe(self) -> None:
        """One cheap request: returns once Cassandra answered, raises if it does not."""
        self.session.execute(self._probe, timeout=self.timeout_s)

    def read(self, rows: Iterable[RowKey]) -> dict[RowKey, Values]:
        """Current values of ``rows``; a row Cassandra does not have reads as zeros. One query
        per ``ROOMS_PER_READ`` rooms of a table (and day), all sent concurrently. Errors
        propagate: nothing is guessed."""
        wanted = list(rows)
        groups: dict[tuple, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
        for table, room, sub in wanted:
            group = (table, day_of(sub)) if table == WINDOWS else (table,)
            groups[group][room].add(sub)
        queries = []
        for group, by_room in groups.items():
            table = group[0]
            rooms = list(by_room)
            for i in range(0, len(rooms), ROOMS_PER_READ):
                chunk = rooms[i:i + ROOMS_PER_READ]
                subs = sorted(set().union(*(by_room[r] for r in chunk)))
                if table == TOTALS:
                    params: tuple = (chunk,)
                elif table == WINDOWS:
                    params = (chunk, day_partition(subs[0]), [timestamp_of(w) for w in subs])
                else:
                    params = (chunk, subs)
                queries.append((table, self.session.execute_async(
                    self._read[table], params, timeout=self.timeout_s)))
        found: dict[RowKey, Values] = {}
        for table, fut in queries:
            n = len(COLUMNS[table])
            for r in fut.result():
                if table == TOTALS:
                    found[(TOTALS, r[0], 0)] = tuple(v or 0 for v in r[1:1 + n])
                elif table == WINDOWS:
                    found[(WINDOWS, r.room_id, millis_of(r.window_start))] = tuple(
                        v or 0 for v in r[2:2 + n])
                else:
                    found[(GIFTS, r.room_id, r.gift_id)] = tuple(v or 0 for v in r[2:2 + n])
        return {row: found.get(row, (0,) * len(COLUMNS[row[0]])) for row in wanted}

    def write(self, writes: Sequence[Write]) -> None:
        """Apply ``writes``, one counter batch per partition, concurrently.

        Raises AmbiguousWrite naming every row whose write was not confirmed, whatever the
        error (a timeout, a lost connection, or a failure while sending): the caller must
        re-read those rows before writing them again.
        """
        statements = []
        for members in pack_partitions(writes, CELLS_PER_BATCH):
            batch = BatchStatement(batch_type=BatchType.COUNTER, consistency_level=self.consistency)
            for w in members:
                table, room, sub = w.row
                changed = tuple(i for i, v in enumerate(w.increment) if v)
                values = [w.increment[i] for i in changed]
                stmt = self._update_statement(table, changed)
                if table == TOTALS:
                    batch.add(stmt, (*values, room))
                elif table == WINDOWS:
                    batch.add(stmt, (*values, room, day_partition(sub), timestamp_of(sub)))
                else:
                    batch.add(stmt, (*values, room, sub))
            statements.append((members, batch))
        confirmed: set[RowKey] = set()
        cause: BaseException | None = None
        try:
            for i in range(0, len(statements), MAX_IN_FLIGHT):
                chunk = [(members, self.session.execute_async(batch, timeout=self.timeout_s))
                         for members, batch in statements[i:i + MAX_IN_FLIGHT]]
                for members, fut in chunk:
                    try:
                        fut.result()
                        confirmed.update(w.row for w in members)
                    except Exception as exc:  # noqa: BLE001 - any failure leaves doubt
                        cause = exc
        except Exception as exc:  # noqa: BLE001 - failed while sending: the rest is in doubt
            cause = exc
        unconfirmed = [w.row for w in writes if w.row not in confirmed]
        if unconfirmed:
            raise AmbiguousWrite(unconfirmed, cause)
