"""The writer lease against the real Cassandra: one counting job per keyspace."""

from __future__ import annotations

import time

import pytest

from connectors.cassandra_schema import migrate
from connectors.writer_lease import LeaseHeld, LeaseLost, WriterLease, new_owner
from local_stack.cassandra import connect

pytestmark = pytest.mark.integration


@pytest.fixture
def session(cassandra_hosts, keyspace):
    with connect(cassandra_hosts) as s:
        migrate(s, keyspace, {"class": "SimpleStrategy", "replication_factor": "1"})
        yield s


def test_a_second_job_is_refused_while_the_first_renews(session, keyspace):
    first, second = new_owner(), new_owner()
    lease = WriterLease(session, keyspace)
    lease.claim(first)
    lease.claim(first)  # claiming again is renewing
    with pytest.raises(LeaseHeld, match="another counting job writes keyspace") as held:
        lease.claim(second)
    assert held.value.holder.owner == first and held.value.holder.live
    lease.renew(first)
    lease.release(second)  # not its lease: nothing happens
    assert lease.holder().owner == first
    lease.release(first)
    assert lease.holder() is None
    lease.claim(second)
    with pytest.raises(LeaseLost):
        lease.renew(first)  # the first job may no longer write
    lease.renew(second)


def test_a_lease_left_by_a_dead_job_expires(session, keyspace):
    lease = WriterLease(session, keyspace, ttl_s=3)
    dead, fresh = new_owner(), new_owner()
    lease.claim(dead)
    with pytest.raises(LeaseHeld):
        lease.claim(fresh)
    time.sleep(3.5)
    assert lease.holder() is None
    lease.claim(fresh)
    lease.renew(fresh)
    # a restarted job whose lease expired while it restarted takes it again when it is free
    lease.release(fresh)
    lease.renew(dead)
    assert lease.holder().owner == dead


def test_the_job_refuses_to_start_on_a_keyspace_another_job_writes(session, keyspace,
                                                                   cassandra_hosts):
    """scripts/demo and a cluster submission on the same keyspace: the second one stops
    before Flink starts, saying why (exit status 3)."""
    import subprocess
    import sys

    running = new_owner()
    WriterLease(session, keyspace).claim(running)
    res = subprocess.run([sys.executable, "-m", "jobs.counters.main", "--keyspace", keyspace,
                          "--cassandra-hosts", ",".join(cassandra_hosts)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 3, res.stderr[-2000:]
    assert f"another counting job writes keyspace {keyspace}" in res.stderr
    assert running in res.stderr
