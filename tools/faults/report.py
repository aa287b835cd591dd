"""What a fault run measured, and how it is judged and printed. Pure: no I/O."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


@dataclass
class Fault:
    """One injected fault: when it was injected and when the harness healed it (the process
    restarted or resumed, the job resubmitted); both on the monotonic clock (seconds since
    the run's start in the JSON report)."""

    what: str
    injected_at: float
    healed_at: float
    recovery_s: float | None = None  # fault to counters moving again; None: never seen moving
    # how long the counts stood still around the fault: from their last rise before it to
    # their first rise after it (None: not seen moving on either side)
    freeze_s: float | None = None
    # events the counters grew by between injection and heal: a replica lost while the others
    # serve should not stop the counting (None: no sample on either side)
    counted_while_down: int | None = None


def recovery_times(faults: Sequence[Fault], samples: Sequence[tuple[float, int]],
                   grace_s: float = 1.0, gap_s: float = 2.0) -> list[float | None]:
    """For each fault, the seconds from its injection to the counters moving again.

    ``samples`` are (time, counted events in Cassandra) in time order. Moving again means the
    first sample taken ``grace_s`` or more after the heal that is higher than the last sample
    before that moment (writes already in flight at the fault may land just after it: they
    do not count as recovery). When no sample could be taken for more than ``gap_s`` up to
    that moment (Cassandra itself was down or paused), the first sample after the gap is the
    base instead: it also shows the writes that landed before the fault, so it is no rise.
    """
    out: list[float | None] = []
    for f in faults:
        start = f.healed_at + grace_s
        base, base_t = None, None
        first = True
        found = None
        for t, v in samples:
            if t < start:
                base, base_t = v, t
                continue
            if first:
                first = False
                if base is None or t - base_t > gap_s:
                    base = v
                    continue
            if v > base:
                found = t - f.injected_at
                break
        out.append(found)
    return out


def freeze_times(faults: Sequence[Fault], samples: Sequence[tuple[float, int]],
                 recoveries: Sequence[float | None]) -> list[float | None]:
    """For each fault, how long the counts stood still: from the last sample before the fault
    that was higher than the one before it, to the moment they moved again (``recoveries``,
    seconds after the injection). A reader sees no number move for that long."""
    out: list[float | None] = []
    for f, rec in zip(faults, recoveries, strict=True):
        rises = [t for (t, v), (_, before) in zip(samples[1:], samples, strict=False)
                 if t <= f.injected_at and v > before]
        out.append(f.injected_at + rec - rises[-1] if rises and rec is not None else None)
    return out


def counted_between(samples: Sequence[tuple[float, int]], t0: float, t1: float) -> int | None:
    """How much the counted events grew from ``t0`` to ``t1``: the last sample at or before
    ``t1`` minus the last one at or before ``t0`` (None without a sample before ``t0``, or
    none between them)."""
    before = [v for t, v in samples if t <= t0]
    upto = [v for t, v in samples if t0 < t <= t1]
    if not before or not upto:
        return None
    return upto[-1] - before[-1]


@dataclass
class RunResult:
    scenario: str
    seed: int
    messages: int            # produced
    counted_sent: int        # valid first-seen events among them
    duplicates_sent: int
    invalid_sent: int
    faults: list[Fault] = field(default_factory=list)
    rooms_checked: int = 0
    rows_checked: int = 0
    rooms_wrong: int = 0
    rows_wrong: int = 0
    events_lost: int = 0
    events_double_counted: int = 0
    dlq_letters: int = 0
    dlq_missing: int = 0
    dlq_extra: int = 0
    restarts: int = 0        # Flink's failover restarts, over every submission of the job
    resubmissions: int = 0   # the harness started the job again (JobManager lost, savepoint)
    # TaskManagers that exited without being killed (restarted by the harness's supervisor)
    taskmanager_exits: list[str] = field(default_factory=list)
    seconds: float = 0.0     # from the first message produced to exact
    wrong_rows: list[str] = field(default_factory=list)
    monitor_samples: int = 0  # samples of the recovery clock, and those that failed
    monitor_errors: dict[str, int] = field(default_factory=dict)
    progress: list[tuple[float, int]] = field(default_factory=list)  # (s, counted), every 2 s
    error: str | None = None  # the run could not finish (the harness's own failure)
    max_restarts: int | None = None  # more restarts fail the run (poison must not loop)
    # Python workers of a killed TaskManager still running at the end of the run (each
    # could still write to Cassandra; they fail the run)
    workers_left: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return (self.error is None and self.rows_wrong == 0 and self.events_lost == 0
                and self.events_double_counted == 0 and self.dlq_missing == 0
                and self.dlq_extra == 0 and self.dlq_letters == self.invalid_sent
                and (self.max_restarts is None or self.restarts <= self.max_restarts)
                and not self.workers_left)

    def recoveries(self) -> list[float]:
        return [f.recovery_s for f in self.faults if f.recovery_s is not None]

    def freezes(self) -> list[float]:
        return [f.freeze_s for f in self.faults if f.freeze_s is not None]

    def recovery_median(self) -> float | None:
        r = self.recoveries()
        return statistics.median(r) if r else None

    def recovery_max(self) -> float | None:
        r = self.recoveries()
        return max(r) if r else None

    def summary(self) -> str:
        med, mx = self.recovery_median(), self.recovery_max()
        rec = f"recovery median {med:.1f}s max {mx:.1f}s" if med is not None else "recovery -"
        fr = self.freezes()
        rec += (f"; counts still median {statistics.median(fr):.1f}s max {max(fr):.1f}s"
                if fr else "")
        return (f"{self.scenario} seed {self.seed}: {'EXACT' if self.exact else 'WRONG'}; "
                f"{self.messages} messages ({self.counted_sent} counted, "
                f"{self.duplicates_sent} duplicates, {self.invalid_sent} invalid), "
                f"{len(self.faults)} faults; rooms {self.rooms_checked} checked, "
                f"{self.rooms_wrong} wrong; lost {self.events_lost}, double-counted "
                f"{self.events_double_counted}; DLQ {self.dlq_letters}/{self.invalid_sent}; "
                f"restarts {self.restarts}, resubmissions {self.resubmissions}"
                + (f", TaskManager exits on their own: {', '.join(self.taskmanager_exits)}"
                   if self.taskmanager_exits else "")
                + (f"; Python workers of killed TaskManagers left: {', '.join(self.workers_left)}"
                   if self.workers_left else "") + f"; {rec}; "
                f"{self.seconds:.0f}s" + (f"; ERROR {self.error}" if self.error else ""))

    def to_json(self) -> dict:
        d = asdict(self)
        d["exact"] = self.exact
        return d


def _s(x: float | None) -> str:
    return f"{x:.1f}" if x is not None else "-"


HEADER = ("| scenario | seed | events produced | duplicates sent | invalid sent | faults "
          "| rooms checked | rooms wrong | events lost | double-counted | DLQ / invalid "
          "| restarts (+ resubmits) | recovery median / max (s) | counts still median / max (s) "
          "| workers left | run (s) | exact |")


def markdown_table(results: Sequence[RunResult]) -> str:
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.seed} | {r.messages:,} | {r.duplicates_sent:,} "
            f"| {r.invalid_sent:,} | {len(r.faults)} | {r.rooms_checked:,} | {r.rooms_wrong} "
            f"| {r.events_lost} | {r.events_double_counted} "
            f"| {r.dlq_letters:,} / {r.invalid_sent:,} | {r.restarts} (+{r.resubmissions})"
            + (f", {len(r.taskmanager_exits)} TaskManager exit(s) on its own "
               if r.taskmanager_exits else " ") +
            f"| {_s(r.recovery_median())} / {_s(r.recovery_max())} "
            f"| {_s(statistics.median(r.freezes()) if r.freezes() else None)} / "
            f"{_s(max(r.freezes()) if r.freezes() else None)} | {len(r.workers_left)} "
            f"| {r.seconds:.0f} "
            f"| {'yes' if r.exact else '**NO**'} |")
    return "\n".join(lines)


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with what lies between the ``begin`` and ``end`` marker lines replaced."""
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"markers {begin!r} .. {end!r} not found")
    return text[: i + len(begin)] + "\n" + body.rstrip("\n") + "\n" + text[j:]
