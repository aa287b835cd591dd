"""Reads and writes of the counter rows for the counting job's sink.

Rows are addressed as ``(table, room_id, sub_key)`` (see ``jobs.counters.logic``). Writes to
the rows of one partition go in one counter batch, which Cassandra applies atomically; a
write whose outcome is unknown (timeout, lost connection, node unavailable) is reported as
ambiguous, never retried here: the caller re-reads the rows once the write can no longer
land, and only then writes again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from cassandra import ConsistencyLevel, OperationTimedOut, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.query import BatchStatement, BatchType

from jobs.counters.logic import COLUMNS, GIFTS, TOTALS, WINDOWS, RowKey, Values, Write, day_of

log = logging.getLogger(__name__)

AMBIGUOUS = (WriteTimeout, OperationTimedOut, Unavailable, NoHostAvailable, ConnectionError)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class AmbiguousWrite(Exception):
    """Writes that may or may not have been applied: re-read their rows before writing again."""

    def __init__(self, rows: list[RowKey], cause: BaseException) -> None:
        super().__init__(f"{len(rows)} rows in doubt: {type(cause).__name__}: {cause}")
        self.rows = rows


def connect_cluster(hosts: Sequence[str], port: int = 9042, connect_timeout: float = 10.0):
    """A cassandra-driver Cluster (not yet connected) for ``hosts``.

    Token-aware routing; credentials from ``CASSANDRA_USERNAME``/``CASSANDRA_PASSWORD`` when
    both are set (never from files).
    """
    import os

    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

    user, password = os.environ.get("CASSANDRA_USERNAME"), os.environ.get("CASSANDRA_PASSWORD")
    auth = PlainTextAuthProvider(user, password) if user and password else None
    profile = ExecutionProfile(load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()))
    return Cluster(list(hosts), port=port, auth_provider=auth, connect_timeout=connect_timeout,
                   protocol_version=5, execution_profiles={EXEC_PROFILE_DEFAULT: profile})


def _ts(ms: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=ms)


def _ms(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def _day(window_start_ms: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day_of(window_start_ms))


def partition_of(row: RowKey) -> tuple:
    table, room, sub = row
    return (table, room, day_of(sub)) if table == WINDOWS else (table, room)


class CounterStore:
    """Prepared reads and counter-batch writes against one keyspace.

    Reads and writes use ``consistency`` (LOCAL_QUORUM by default), so a read sees every write
    that was acknowledged, also with replication.
    """

    def __init__(self, session, keyspace: str,
                 consistency: int = ConsistencyLevel.LOCAL_QUORUM,
                 timeout_s: float = 10.0) -> None:
        self.session = session
        self.consistency = consistency
        self.timeout_s = timeout_s
        ks = keyspace
        sets = {t: ", ".join(f"{c} = {c} + ?" for c in cols) for t, cols in COLUMNS.items()}
        cols = {t: ", ".join(c) for t, c in COLUMNS.items()}
        p = session.prepare
        self._update = {
            TOTALS: p(f"UPDATE {ks}.{TOTALS} SET {sets[TOTALS]} WHERE room_id = ?"),
            WINDOWS: p(f"UPDATE {ks}.{WINDOWS} SET {sets[WINDOWS]} "
                       "WHERE room_id = ? AND day = ? AND window_start = ?"),
            GIFTS: p(f"UPDATE {ks}.{GIFTS} SET {sets[GIFTS]} WHERE room_id = ? AND gift_id = ?"),
        }
        self._read = {
            TOTALS: p(f"SELECT room_id, {cols[TOTALS]} FROM {ks}.{TOTALS} WHERE room_id IN ?"),
            WINDOWS: p(f"SELECT window_start, {cols[WINDOWS]} FROM {ks}.{WINDOWS} "
                       "WHERE room_id = ? AND day = ? AND window_start IN ?"),
            GIFTS: p(f"SELECT gift_id, {cols[GIFTS]} FROM {ks}.{GIFTS} "
                     "WHERE room_id = ? AND gift_id IN ?"),
        }
        for stmt in (*self._update.values(), *self._read.values()):
            stmt.consistency_level = consistency

    def read(self, rows: Iterable[RowKey]) -> dict[RowKey, Values]:
        """Current values of ``rows``; a row Cassandra does not have reads as zeros."""
        groups: dict[tuple, list[RowKey]] = defaultdict(list)
        for row in rows:
            table, room, sub = row
            groups[(table, room, day_of(sub)) if table == WINDOWS else (table,)].append(row)
        out: dict[RowKey, Values] = {}
        for key, members in groups.items():
            table = key[0]
            n = len(COLUMNS[table])
            if table == TOTALS:
                res = self.session.execute(self._read[TOTALS], ([r[1] for r in members],),
                                           timeout=self.timeout_s)
                found = {(TOTALS, r[0], 0): tuple(v or 0 for v in r[1:1 + n]) for r in res}
            elif table == WINDOWS:
                room = members[0][1]
                res = self.session.execute(
                    self._read[WINDOWS], (room, _day(members[0][2]),
                                          [_ts(r[2]) for r in members]), timeout=self.timeout_s)
                found = {(WINDOWS, room, _ms(r[0])): tuple(v or 0 for v in r[1:1 + n])
                         for r in res}
            else:
                by_room: dict[int, list[int]] = defaultdict(list)
                for r in members:
                    by_room[r[1]].append(r[2])
                found = {}
                for room, gift_ids in by_room.items():
                    res = self.session.execute(self._read[GIFTS], (room, gift_ids),
                                               timeout=self.timeout_s)
                    found.update({(GIFTS, room, r[0]): tuple(v or 0 for v in r[1:1 + n])
                                  for r in res})
            for row in members:
                out[row] = found.get(row, (0,) * n)
        return out

    def write(self, writes: Sequence[Write]) -> None:
        """Apply ``writes``, one counter batch per partition, concurrently.

        Raises AmbiguousWrite naming the rows of every batch whose outcome is unknown (after
        the others completed); other errors propagate.
        """
        batches: dict[tuple, list[Write]] = defaultdict(list)
        for w in writes:
            batches[partition_of(w.row)].append(w)
        futures = []
        for members in batches.values():
            batch = BatchStatement(batch_type=BatchType.COUNTER, consistency_level=self.consistency)
            for w in members:
                table, room, sub = w.row
                if table == TOTALS:
                    batch.add(self._update[TOTALS], (*w.increment, room))
                elif table == WINDOWS:
                    batch.add(self._update[WINDOWS], (*w.increment, room, _day(sub), _ts(sub)))
                else:
                    batch.add(self._update[GIFTS], (*w.increment, room, sub))
            futures.append((members, self.session.execute_async(batch, timeout=self.timeout_s)))
        doubtful: list[RowKey] = []
        cause: BaseException | None = None
        for members, fut in futures:
            try:
                fut.result()
            except AMBIGUOUS as exc:
                doubtful += [w.row for w in members]
                cause = exc
        if doubtful:
            raise AmbiguousWrite(doubtful, cause)
