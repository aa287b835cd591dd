"""The sink's hold on the keyspace's writer lease and its subtask's fence
(``connectors/writer_lease.py``), renewed on a thread of its own."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from connectors.writer_lease import FRESH_S, RENEW_S, LeaseLost, LeaseUnconfirmed

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Keeps the keyspace's writer lease (``connectors.writer_lease``) for this job while the
    sink runs: renewed at open and every ``RENEW_S`` on a thread of its own, released at
    close. ``check()`` raises LeaseLost once another job holds the lease; ``confirm()``
    (the writer calls it before every write) also makes sure the last confirmed renewal is
    fresh (``FRESH_S``), renewing first if it is not: a sink that could not reach Cassandra
    for a while must not write on a lease that may have expired and been taken meanwhile.
    A renewal that fails for another reason than LeaseLost (Cassandra down) is retried.
    With a ``fence`` (``SinkFence``, taken by the caller for ``instance``) a renewal renews
    both, and one is confirmed only when both are: an attempt a newer attempt of its subtask
    fenced out stops writing (``FenceLost``, a LeaseLost) at its next write.
    """

    def __init__(self, lease, owner: str, clock: Callable[[], float] = time.monotonic,
                 renew_every_s: float | None = None, fence=None,
                 instance: str | None = None) -> None:
        self.lease, self.owner, self.clock = lease, owner, clock
        self.fence, self.instance = fence, instance
        self.lost: Exception | None = None
        self.confirmed_at: float | None = None  # when the last confirmed renewal was sent
        self._stop = threading.Event()
        self._renew()
        self.check()  # another job holds it: fail at open, before any write
        self._thread = None
        if renew_every_s != 0:
            self._thread = threading.Thread(target=self._run, args=(renew_every_s or RENEW_S,),
                                            daemon=True, name="writer-lease")
            self._thread.start()

    def _renew(self) -> None:
        sent = self.clock()
        try:
            self.lease.renew(self.owner)
            if self.fence is not None:
                self.fence.renew(self.instance)
        except LeaseLost as exc:
            log.error("sink: %s", exc)
            self.lost = exc
        except Exception as exc:  # noqa: BLE001 - Cassandra unreachable: try again later
            log.warning("sink: renewing the writer lease failed: %s: %s",
                        type(exc).__name__, exc)
        else:
            self.confirmed_at = max(self.confirmed_at or sent, sent)

    def _run(self, every_s: float) -> None:
        while self.lost is None and not self._stop.wait(every_s):
            self._renew()

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost

    def fresh(self) -> bool:
        return self.confirmed_at is not None and self.clock() - self.confirmed_at <= FRESH_S

    def confirm(self) -> None:
        """Before a write: LeaseLost if another job holds the lease, LeaseUnconfirmed (the
        writer retries) if no renewal within ``FRESH_S`` was confirmed and renewing now
        fails too."""

        self.check()
        if self.fresh():
            return
        self._renew()
        self.check()
        if not self.fresh():
            raise LeaseUnconfirmed(
                f"the writer lease was last confirmed more than {FRESH_S} s ago and cannot "
                "be renewed now: not writing until it is")

    def stop(self, release_fence: bool = False) -> None:
        """Stop renewing and release the lease; the fence only when ``release_fence`` (no
        write of this attempt can still land: otherwise the next attempt waits it out)."""
        self._stop.set()
        if self.lost is None:
            try:
                self.lease.release(self.owner)
                if self.fence is not None and release_fence:
                    self.fence.release(self.instance)
            except Exception as exc:  # noqa: BLE001 - it expires by itself
                log.warning("sink: releasing the writer lease failed: %s", exc)
