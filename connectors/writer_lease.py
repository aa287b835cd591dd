"""One writer per counter row, which exactly-once into counter tables needs
(docs/exactly-once.md, "One job per keyspace: the writer lease"): ``WriterLease`` keeps a second job
off a keyspace (Kafka cannot tell that a job runs: Flink's source never joins its consumer
group), ``SinkFence`` keeps an older attempt of the same sink subtask from writing after a
restart (its Python worker may outlive its cancelled task, blocked in a read). Lightweight
transactions make claims and renewals atomic, and Cassandra's TTL times them, so no two hosts'
clocks are compared."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from cassandra import ConsistencyLevel

log = logging.getLogger(__name__)

TTL_S = 30         # a lease not renewed for this long is free
# Sinks renew this often. A new attempt of a sink waits out QUIET_S after the last renewal
# of the attempt before it; a short period keeps that wait short after a failover (a
# renewal is two lightweight transactions per sink subtask).
RENEW_S = 1
# A sink writes only while its last confirmed renewal was sent at most this long ago, and
# renews first otherwise. A write sent then still reaches Cassandra before the lease can
# expire: FRESH_S + the sink's request timeout (10 s) + Cassandra's counter write timeout (5 s)
# stay under TTL_S.
FRESH_S = 2 * RENEW_S
LIVE_WITHIN_S = 15  # renewed this recently: its job is running (not a leftover of a crash)
LEASE_NAME = "counters"


@dataclass(frozen=True)
class Holder:
    owner: str
    host: str
    ttl_left_s: int
    ttl_s: int = TTL_S

    @property
    def renewed_ago_s(self) -> int:
        return self.ttl_s - self.ttl_left_s

    @property
    def live(self) -> bool:
        """Renewed recently enough that its job is taken to be running."""
        return self.renewed_ago_s <= self.ttl_s * LIVE_WITHIN_S // TTL_S


class LeaseHeld(Exception):
    """Another job holds the lease: it is writing this keyspace's counter tables."""

    def __init__(self, keyspace: str, holder: Holder) -> None:
        super().__init__(
            f"another counting job writes keyspace {keyspace} (lease owner {holder.owner} on "
            f"{holder.host}, renewed {holder.renewed_ago_s} s ago): two jobs would count every "
            "event twice. Stop that job first (cancel it, or stop it with a savepoint); a "
            f"lease left by a job that died expires {TTL_S} s after its last renewal")
        self.holder = holder


class LeaseLost(Exception):
    """This job's lease is held by another job now: its sinks must not write."""


class FenceLost(LeaseLost):
    """A newer attempt of this sink subtask holds its fence: this attempt must not write."""


class LeaseUnconfirmed(Exception):
    """The lease could not be renewed (Cassandra did not answer) and its last confirmed
    renewal is too old to write on: the sink waits and tries again, writing nothing."""


def new_owner() -> str:
    """An owner id for one run of the job (a submission; Flink restarts keep it)."""
    return f"{uuid.uuid4().hex[:12]}@{socket.gethostname()}:{os.getpid()}"


class WriterLease:
    """The lease row of ``keyspace`` (table ``writer_lease``, created by provisioning)."""

    def __init__(self, session, keyspace: str, ttl_s: int = TTL_S) -> None:
        ks = keyspace
        self.keyspace, self.session, self.ttl_s = keyspace, session, ttl_s
        p = session.prepare
        self._claim = p(f"INSERT INTO {ks}.writer_lease (name, owner, host) VALUES (?, ?, ?) "
                        f"IF NOT EXISTS USING TTL {ttl_s}")
        self._renew = p(f"UPDATE {ks}.writer_lease USING TTL {ttl_s} SET owner = ?, host = ? "
                        "WHERE name = ? IF owner = ?")
        self._release = p(f"DELETE FROM {ks}.writer_lease WHERE name = ? IF owner = ?")
        self._read = p(f"SELECT owner, host, TTL(owner) AS ttl FROM {ks}.writer_lease "
                       "WHERE name = ?")
        self._read.consistency_level = ConsistencyLevel.SERIAL

    def holder(self) -> Holder | None:
        row = self.session.execute(self._read, (LEASE_NAME,)).one()
        return Holder(row.owner, row.host, row.ttl or 0, self.ttl_s) if row else None

    def claim(self, owner: str) -> None:
        """Take the lease for ``owner``, or raise LeaseHeld naming the job that holds it.
        Claiming a lease ``owner`` already holds renews it."""
        host = owner.partition("@")[2] or "?"
        res = self.session.execute(self._claim, (LEASE_NAME, owner, host)).one()
        if res.applied:
            return
        if getattr(res, "owner", None) == owner:
            self.renew(owner)
            return
        raise LeaseHeld(self.keyspace, self.holder()
                        or Holder(res.owner, res.host, self.ttl_s, self.ttl_s))

    def renew(self, owner: str) -> None:
        """Keep the lease for another ``TTL_S``; claim it again if it expired meanwhile (a
        restart that took longer than the TTL). Raises LeaseLost if another job holds it."""
        host = owner.partition("@")[2] or "?"
        res = self.session.execute(self._renew, (owner, host, LEASE_NAME, owner)).one()
        if res.applied:
            return
        if getattr(res, "owner", None) is None:  # expired: nobody holds it
            res = self.session.execute(self._claim, (LEASE_NAME, owner, host)).one()
            if res.applied or getattr(res, "owner", None) == owner:
                return
        raise LeaseLost(f"the writer lease of keyspace {self.keyspace} is held by another "
                        f"job ({getattr(res, 'owner', '?')}): this job ({owner}) stops writing")

    def release(self, owner: str) -> None:
        """Give the lease up if ``owner`` holds it (a job that stops)."""
        self.session.execute(self._release, (LEASE_NAME, owner))


# A write sent on a renewal is sent within FRESH_S of it and lands (or dies) within the sink's
# request timeout (10 s) and Cassandra's counter write timeout (5 s) of that: an attempt that
# renewed its fence this long ago can no longer change a counter.
QUIET_S = FRESH_S + 10 + 5 + 5
FENCE_TTL_S = 600  # only tidies rows: a running attempt's row never expires in an outage


def new_instance() -> str:
    """An id for one attempt of one sink subtask (one ``open``)."""
    return f"{uuid.uuid4().hex[:12]}@{socket.gethostname()}:{os.getpid()}"


class SinkFence:
    """The fence row ``name`` (one per sink subtask of a job; table ``sink_fence``)."""

    def __init__(self, session, keyspace: str, name: str, ttl_s: int = FENCE_TTL_S,
                 quiet_s: float = QUIET_S, clock=None) -> None:
        ks = keyspace
        self.session, self.name, self.ttl_s, self.quiet_s = session, name, ttl_s, quiet_s
        self.clock = clock or time.monotonic
        self._seq = 0
        self._lock = threading.Lock()
        p = session.prepare
        self._insert = p(f"INSERT INTO {ks}.sink_fence (name, instance, seq) VALUES (?, ?, 0) "
                         f"IF NOT EXISTS USING TTL {ttl_s}")
        self._take = p(f"UPDATE {ks}.sink_fence USING TTL {ttl_s} SET instance = ?, seq = 0 "
                       "WHERE name = ? IF instance = ? AND seq = ?")
        self._renew = p(f"UPDATE {ks}.sink_fence USING TTL {ttl_s} SET instance = ?, seq = ? "
                        "WHERE name = ? IF instance = ?")
        self._release = p(f"DELETE FROM {ks}.sink_fence WHERE name = ? IF instance = ?")
        self._read = p(f"SELECT instance, seq, TTL(instance) AS ttl FROM {ks}.sink_fence "
                       "WHERE name = ?")
        self._read.consistency_level = ConsistencyLevel.SERIAL

    def take(self, instance: str) -> tuple[str | None, float]:
        """Take the row for ``instance``, whoever holds it. Returns the attempt it was taken
        from (None: nobody held it) and how many seconds to wait before reading a counter
        this subtask writes: until the attempt before can no longer change one. The
        condition on ``seq`` makes sure the renewal read is the last one that attempt made."""
        while True:
            read_at = self.clock()
            row = self.session.execute(self._read, (self.name,)).one()
            if row is None:
                if self.session.execute(self._insert, (self.name, instance)).one().applied:
                    self._seq = 0
                    return None, 0.0
                continue
            res = self.session.execute(self._take, (instance, self.name, row.instance, row.seq))
            if res.one().applied:
                self._seq = 0
                renewed_ago = self.ttl_s - (row.ttl or 0) - 1  # TTLs are whole seconds
                wait = self.quiet_s - renewed_ago - (self.clock() - read_at)
                return row.instance, max(0.0, wait)

    def renew(self, instance: str) -> None:
        """Keep the row; FenceLost if a newer attempt took it (or it expired: an attempt cut
        off from Cassandra for ``FENCE_TTL_S`` never writes again, its task is restarted)."""
        with self._lock:  # one renewal at a time: each carries a seq of its own
            self._seq += 1
            res = self.session.execute(self._renew, (instance, self._seq, self.name, instance))
        if not res.one().applied:
            raise FenceLost(f"sink fence {self.name} is held by a newer attempt "
                            f"({getattr(res.one(), 'instance', None) or 'none: expired'}): "
                            f"this attempt ({instance}) stops writing")

    def release(self, instance: str) -> None:
        """Give the row up (the attempt closes): the next attempt need not wait."""
        self.session.execute(self._release, (self.name, instance))
