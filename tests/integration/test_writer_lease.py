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


def test_the_newest_attempt_of_a_sink_subtask_fences_out_the_one_before(session, keyspace):
    """Two attempts of one sink subtask of one job (a restarted job whose cancelled task's
    worker lives on): the newer takes the fence at once, is told how long the older one's
    last writes may still land, and the older one can no longer renew (so never writes)."""
    from connectors.writer_lease import FenceLost, SinkFence, new_instance

    name = f"{new_owner()}/0-of-2"
    old, new, third = new_instance(), new_instance(), new_instance()
    fence_old = SinkFence(session, keyspace, name, quiet_s=20)
    assert fence_old.take(old) == (None, 0.0)  # nobody held it: nothing to wait for
    fence_old.renew(old)
    fence_new = SinkFence(session, keyspace, name, quiet_s=20)
    previous, wait = fence_new.take(new)
    assert previous == old
    assert 17 <= wait <= 21  # renewed just now: its writes may land for ~20 s (+1 s rounding)
    with pytest.raises(FenceLost, match="held by a newer attempt"):
        fence_old.renew(old)
    fence_old.release(old)  # not its row any more: nothing happens
    fence_new.renew(new)
    fence_new.release(new)  # closed with no write in doubt: the next attempt need not wait
    assert SinkFence(session, keyspace, name).take(third) == (None, 0.0)


def test_an_attempt_that_stopped_renewing_long_ago_is_not_waited_for(session, keyspace):
    from connectors.writer_lease import SinkFence, new_instance

    name = f"{new_owner()}/1-of-2"
    dead, new = new_instance(), new_instance()
    SinkFence(session, keyspace, name, quiet_s=2).take(dead)
    time.sleep(3.2)  # killed with its TaskManager; the restart took longer than quiet_s
    previous, wait = SinkFence(session, keyspace, name, quiet_s=2).take(new)
    assert previous == dead and wait == 0.0


def test_a_renewal_between_reading_and_taking_the_fence_is_seen(session, keyspace):
    """The wait is computed from the older attempt's last renewal: one that lands between the
    newer attempt's read and its take must make the take read again."""
    from connectors.writer_lease import SinkFence, new_instance

    name = f"{new_owner()}/0-of-1"
    old, new = new_instance(), new_instance()
    fence_old = SinkFence(session, keyspace, name, quiet_s=10)
    fence_old.take(old)
    time.sleep(3.2)
    fence_new = SinkFence(session, keyspace, name, quiet_s=10)
    real_execute, reads = session.execute, []

    class RenewAfterRead:  # the older attempt renews right after the newer one's read
        def __getattr__(self, attr):
            return getattr(session, attr)

        def execute(self, stmt, *args, **kw):
            result = real_execute(stmt, *args, **kw)
            if stmt is fence_new._read:
                reads.append(1)
                if len(reads) == 1:
                    fence_old.renew(old)
            return result

    fence_new.session = RenewAfterRead()
    previous, wait = fence_new.take(new)
    assert previous == old and len(reads) == 2  # the first take was refused, read again
    assert wait >= 7  # from the renewal just made, not from the one 3 s older
