"""The sink's hold on the writer lease: it writes only on a freshly confirmed lease, stops for
good when another job holds it, and waits (writing nothing) while Cassandra cannot confirm it."""

from __future__ import annotations

import pytest

from connectors.counter_rows import TOTALS
from connectors.writer_lease import FRESH_S, LeaseLost, LeaseUnconfirmed
from jobs.counters.sink.lease_keeper import LeaseKeeper
from tests.unit.jobs.counters.sink.test_writer import Clock, FakeStore, writer

pytestmark = pytest.mark.unit

T = (TOTALS, 1, 0)


class FakeLease:
    """The lease row as the sink sees it: ``state`` is "ours", "down" (Cassandra does not
    answer) or "taken" (another job holds it). With ``lost=FenceLost``: a sink subtask's
    fence row, "taken" by a newer attempt of the subtask."""

    def __init__(self, lost: type[LeaseLost] = LeaseLost):
        self.state = "ours"
        self.renewals = 0
        self.released = False
        self.lost = lost

    def renew(self, owner):
        if self.state == "down":
            raise TimeoutError("renewal timed out")
        if self.state == "taken":
            raise self.lost("held by another job, or a newer attempt")
        self.renewals += 1

    def release(self, owner):
        self.released = True


def keeper(lease, clock):
    return LeaseKeeper(lease, "job-a", clock=clock, renew_every_s=0)  # renewals by hand


def test_fresh_lease_writes_without_renewing():
    lease, clock = FakeLease(), Clock()
    k = keeper(lease, clock)
    clock.t = FRESH_S
    k.confirm()
    assert lease.renewals == 1  # only the one at open


def test_stale_lease_is_renewed_before_a_write():
    lease, clock = FakeLease(), Clock()
    k = keeper(lease, clock)
    clock.t = FRESH_S + 1
    k.confirm()
    assert lease.renewals == 2 and k.fresh()


def test_no_write_on_a_lease_cassandra_cannot_confirm():
    lease, clock = FakeLease(), Clock()
    k = keeper(lease, clock)
    lease.state = "down"
    clock.t = FRESH_S + 1
    with pytest.raises(LeaseUnconfirmed):
        k.confirm()
    lease.state = "ours"  # Cassandra answers again, the lease is still this job's
    k.confirm()
    assert k.fresh()


def test_lease_taken_while_cut_off_is_never_written_on():
    """The gap this guards: renewals failed (Cassandra unreachable) past the TTL, another job
    took the lease, and Cassandra answers again before the sink's next scheduled renewal."""
    lease, clock, store = FakeLease(), Clock(), FakeStore()
    k = keeper(lease, clock)
    w = writer(store, clock, before_write=k.confirm)
    w.add({T: (1, 0, 0, 1, 0)})
    w.flush()
    assert store.rows[T] == (1, 0, 0, 1, 0)
    lease.state = "down"
    k._renew()  # the scheduled renewal fails: the sink keeps its lease for now
    clock.t += 40  # longer than the TTL: another job claims the lease meanwhile
    lease.state = "taken"
    w.add({T: (2, 0, 0, 2, 0)})
    with pytest.raises(LeaseLost):
        w.flush()
    assert store.rows[T] == (1, 0, 0, 1, 0)  # nothing written on the lost lease


def test_writer_waits_while_the_lease_is_unconfirmed_then_writes():
    lease, clock, store = FakeLease(), Clock(), FakeStore()
    k = keeper(lease, clock)
    attempts = []

    def before_write():
        attempts.append(clock.t)
        if len(attempts) == 3:
            lease.state = "ours"  # Cassandra confirms the lease again
        k.confirm()

    w = writer(store, clock, before_write=before_write)
    lease.state = "down"
    clock.t = FRESH_S + 1
    w.add({T: (1, 0, 0, 1, 0)})
    w.flush()  # retried with backoff, as while Cassandra is unreachable
    assert len(attempts) == 3 and w.stats.failures == 2
    assert store.rows[T] == (1, 0, 0, 1, 0)


def test_stop_releases_unless_lost():
    lease, clock = FakeLease(), Clock()
    keeper(lease, clock).stop()
    assert lease.released
    lease = FakeLease()
    k = keeper(lease, clock)
    lease.state = "taken"
    k._renew()
    k.stop()
    assert not lease.released


def FakeFence():
    from connectors.writer_lease import FenceLost

    return FakeLease(lost=FenceLost)


def test_an_attempt_fenced_out_by_a_newer_one_never_writes_again():
    """The r1 defect: a cancelled attempt's sink, blocked in a read while a replica was down,
    wrote once the read returned, beside the new attempt of the same subtask (same job, same
    lease). Its fence is taken by the new attempt: its next write raises instead."""
    from connectors.writer_lease import FenceLost

    lease, fence, clock, store = FakeLease(), FakeFence(), Clock(), FakeStore()
    k = LeaseKeeper(lease, "job-a", clock=clock, renew_every_s=0, fence=fence, instance="a1")
    w = writer(store, clock, before_write=k.confirm)
    w.add({T: (1, 0, 0, 1, 0)})
    w.flush()
    # written on a fence renewed within FRESH_S (the first write waits out the settle time)
    assert store.rows[T] == (1, 0, 0, 1, 0) and fence.renewals >= 1 and k.fresh()
    fence.state = "taken"  # the job restarted; the new attempt took the subtask's fence
    clock.t += FRESH_S + 1  # the job lease is still this job's: only the fence says no
    w.add({T: (2, 0, 0, 2, 0)})
    with pytest.raises(FenceLost):
        w.flush()
    assert store.rows[T] == (1, 0, 0, 1, 0)
    k.stop(release_fence=True)
    assert lease.released is False and fence.released is False  # lost: nothing released


def test_no_write_while_the_fence_cannot_be_confirmed():
    lease, fence, clock = FakeLease(), FakeFence(), Clock()
    k = LeaseKeeper(lease, "job-a", clock=clock, renew_every_s=0, fence=fence, instance="a1")
    fence.state = "down"
    clock.t = FRESH_S + 1
    with pytest.raises(LeaseUnconfirmed):
        k.confirm()
    fence.state = "ours"
    k.confirm()
    assert k.fresh()


def test_the_fence_is_released_only_when_no_write_can_still_land():
    lease, fence, clock = FakeLease(), FakeFence(), Clock()
    k = LeaseKeeper(lease, "job-a", clock=clock, renew_every_s=0, fence=fence, instance="a1")
    k.stop(release_fence=False)  # a write in doubt: the next attempt waits it out
    assert lease.released and not fence.released
    lease, fence = FakeLease(), FakeFence()
    LeaseKeeper(lease, "job-a", clock=clock, renew_every_s=0, fence=fence,
                instance="a2").stop(release_fence=True)
    assert lease.released and fence.released
