"""One counting job per keyspace: a lease row in Cassandra that a second job cannot take.

Exactly-once into counter tables needs one writer per counter row (README, "Exactly-once").
Two counting jobs on the same keyspace (say the embedded demo and a cluster submission)
would each bring the rows to their own truth and count every event twice. Kafka cannot tell
that a job runs: Flink's Kafka source assigns partitions itself and never joins its consumer
group. So the job holds a lease in the keyspace it writes:

- the job's driver ``claim``\\ s it before the job starts, and refuses to start while another
  job holds it (``LeaseHeld``); a lease left by a job that died expires ``TTL_S`` after its
  last renewal, and the driver may wait for that;
- every sink subtask ``renew``\\ s it every ``RENEW_S`` while the job runs (the same owner
  after a Flink restart: the owner id travels with the job graph), and stops writing with
  ``LeaseLost`` if another job holds it;
- a sink writes only on a renewal confirmed within ``FRESH_S``: one cut off from Cassandra
  for longer (its lease may have expired and been taken meanwhile) renews before it writes
  again;
- a sink that closes (cancel, stop with savepoint) ``release``\\ s it.

Lightweight transactions (``IF ...``) make claim and renewal atomic; the remaining time is
Cassandra's own TTL, so no two hosts' clocks are compared.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)

TTL_S = 30         # a lease not renewed for this long is free
RENEW_S = 5        # sinks renew this often
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


class LeaseUnconfirmed(Exception):
    """The lease could not be renewed (Cassandra did not answer) and its last confirmed
    renewal is too old to write on: the sink waits and tries again, writing nothing."""


def new_owner() -> str:
    """An owner id for one run of the job (a submission; Flink restarts keep it)."""
    return f"{uuid.uuid4().hex[:12]}@{socket.gethostname()}:{os.getpid()}"


class WriterLease:
    """The lease row of ``keyspace`` (table ``writer_lease``, created by provisioning)."""

    def __init__(self, session, keyspace: str, ttl_s: int = TTL_S) -> None:
        from cassandra import ConsistencyLevel

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
