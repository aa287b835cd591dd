"""When a behind job's truths go to the sink: the executable specification of the JVM hold
(``jvm/livecounters/HoldPolicy.java``). Pure logic."""

from __future__ import annotations

# the job is behind when the newest event time it has seen is older than this (ms): a backlog
# after an outage or a deploy, not the delay of a job that keeps up
BEHIND_MS = 5_000


class HoldPolicy:
    """When the truths of a behind job wait before they go to the sink.

    The job runs it in the JVM (``jvm/livecounters/HoldPolicy.java``, in ``TruthHold``, the
    operator in front of the sink); this class is its executable specification, and a
    differential test drives both with the same scripts.

    Live (the newest event time seen, ``max_ts`` of the truths, is at most ``behind_ms`` behind
    the clock): a truth goes to the sink at once. Behind (a backlog): truths are held, the
    newest per counter row, and released together in rounds, one every ``min(hold_ms,
    lag / 4)`` since the last: the further behind, the longer a round, because a row that
    changes meanwhile is written once; the nearer to live, the sooner counts show. A truth
    that arrives once the job is live again releases everything held. ``hold_ms`` 0: never
    hold. Held truths live in the operator's checkpointed state, so a round may span
    checkpoints (docs/exactly-once.md).
    """

    PASS, HOLD, RELEASE_AND_PASS = "pass", "hold", "release+pass"

    def __init__(self, hold_ms: int, behind_ms: int = BEHIND_MS) -> None:
        self.hold_ms, self.behind_ms = hold_ms, behind_ms
        self.newest = 0              # the newest event time seen (0: none yet)
        self.round_start: int | None = None  # when the current round began holding

    def lag_ms(self, now_ms: int) -> int:
        return now_ms - self.newest if self.newest else 0

    def behind(self, now_ms: int) -> bool:
        return self.hold_ms > 0 and self.newest > 0 and self.lag_ms(now_ms) > self.behind_ms

    def offer(self, now_ms: int, max_ts: int, holding: bool) -> str:
        """What to do with a truth covering events up to ``max_ts`` arriving at ``now_ms``;
        ``holding``: truths are held now."""
        self.newest = max(self.newest, max_ts)
        if self.behind(now_ms):
            if not holding:
                self.round_start = now_ms
            return self.HOLD
        return self.RELEASE_AND_PASS if holding else self.PASS

    def release_due(self, now_ms: int, holding: bool) -> bool:
        """Whether the held truths go now (asked periodically); a release ends the round."""
        if not holding:
            return False
        if not self.behind(now_ms):
            return True
        if self.round_start is None:  # held truths from before a restart: a round from now
            self.round_start = now_ms
        return now_ms - self.round_start >= min(self.hold_ms, self.lag_ms(now_ms) // 4)

    def released(self, now_ms: int) -> None:
        self.round_start = None
