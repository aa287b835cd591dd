"""What a benchmark run measured, and how it is shown: docs/benchmarks.md, the terminal table and
the chart. Pure rendering; the only I/O is in ``draw_chart`` and ``write``.

A figure only counts when the counters it produced were checked exact at the end. A
measurement that was not exact is shown as NOT EXACT everywhere it appears, its events/s is
struck through, and ``ratio`` refuses to use it: a fast wrong run does not count.

Conventions for ``Measurement.extra`` (everything else in it is shown as a detail):

- ``"ratio:<reference>"``: this measurement's events/s as a multiple of the reference's,
  set with ``add_ratio`` (a float, or a string saying why there is none);
- the producer scenario's keys ``PRODUCER_KEYS`` (calls/s, Kafka messages/s, merge ratio).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NOT_EXACT = "NOT EXACT — does not count"
RESTARTED = "RESTARTED"
RESTARTS = "restarts"  # a counting run's extra: how often its job failed and restarted
LATENCY_TARGET_MS = 1500.0
RATIO_PREFIX = "ratio:"
# extra keys of the producer scenario (tools/bench/producer_bench.py)
TAPS, GIFTS, MESSAGES = "taps", "gifts", "kafka_messages"
MESSAGES_PER_S, MERGE_RATIO = "kafka_messages_per_s", "merge_ratio"
PRODUCER_KEYS = (TAPS, GIFTS, MESSAGES, MESSAGES_PER_S, MERGE_RATIO)

Extra = dict[str, float | str]


@dataclass
class Measurement:
    """``events`` processed in ``seconds``; ``exact``: the counters were checked exact at the
    end (True), were not (False), or there is nothing to check (None: a ceiling that counts
    nothing, such as a blackhole sink or a raw consume)."""

    scenario: str
    subject: str
    events: int
    seconds: float
    exact: bool | None
    extra: Extra = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def counts(self) -> bool:
        """Usable as a figure: exact, or nothing to be exact about."""
        return self.exact is not False

    def ratios(self) -> list[tuple[str, float | str]]:
        return [(k[len(RATIO_PREFIX):], v) for k, v in self.extra.items()
                if k.startswith(RATIO_PREFIX)]

    def details(self) -> Extra:
        return {k: v for k, v in self.extra.items()
                if not k.startswith(RATIO_PREFIX) and k not in PRODUCER_KEYS}


@dataclass
class LatencyPoint:
    """Produce -> visible in ``room_totals`` at a fixed offered ``rate`` (events/s)."""

    rate: int
    achieved_rate: float
    samples: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    exact: bool
    restarts: int | None = None   # how often the job failed and restarted (None: unknown)
    budget: dict[str, float | None] = field(default_factory=dict)  # latency.latency_budget
    keeps_up: bool | None = None  # latency.keeps_up (None: not measured)
    max_lag: float | None = None  # the largest Kafka lag sampled while measuring, records


@dataclass
class FailurePoint:
    """Produce -> visible at a fixed ``rate`` through a TaskManager kill -9 (restarted at
    once): the measured window's percentiles and maximum, the longest time no probe moved,
    and how long latency took to settle (p99 of the next 30 s <= 1 s) from the job's start
    and from the kill (None: not within the run)."""

    rate: int
    seconds: float
    samples: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    longest_freeze_s: float | None
    settle_from_start_s: float | None
    settle_after_kill_s: float | None
    checkpoints: int | None
    exact: bool
    restarts: int | None = None


@dataclass
class Target:
    name: str
    goal: str      # e.g. ">= 150,000 ev/s"
    value: str     # what was measured, as text
    met: bool


@dataclass
class BenchResult:
    """One run of ``scripts/bench``. ``machine`` is expected to carry ``cpu``, ``cores``,
    ``ram`` and ``os`` (other keys are shown too); ``versions`` maps a component to its
    version, in the order they are shown."""

    mode: str                      # "full" or "quick"
    command: str                   # exactly what was run
    started: str                   # ISO 8601
    duration_s: float
    machine: dict[str, str]
    versions: dict[str, str]
    measurements: list[Measurement] = field(default_factory=list)
    latency: list[LatencyPoint] = field(default_factory=list)
    failure: list[FailurePoint] = field(default_factory=list)
    scale: dict[str, float | str] = field(default_factory=dict)
    # per counting drain ("scenario: subject"): its tasks, busiest first, as
    # [name, busy ms/s, backpressured ms/s, records in/s] averaged over the drain's samples
    stages: dict[str, list[list]] = field(default_factory=dict)
    producer: list[Measurement] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def not_exact(self) -> list[str]:
        """What was checked and found not exact, by name; empty when the whole run counts."""
        bad = [f"{m.scenario}: {m.subject}" for m in [*self.measurements, *self.producer]
               if m.exact is False]
        bad += [f"latency at {p.rate:,} ev/s" for p in self.latency if not p.exact]
        bad += [f"latency through a failure at {p.rate:,} ev/s" for p in self.failure
                if not p.exact]
        return bad

    def restarted(self) -> list[str]:
        """Counting runs whose job failed and restarted, with how often: a backlog must
        drain with none."""
        out = [f"{m.scenario}: {m.subject} ({m.extra[RESTARTS]})"
               for m in self.measurements if m.extra.get(RESTARTS)]
        out += [f"latency at {p.rate:,} ev/s ({p.restarts})" for p in self.latency
                if p.restarts]
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        d = dict(d)
        d["measurements"] = [Measurement(**m) for m in d.get("measurements", [])]
        d["producer"] = [Measurement(**m) for m in d.get("producer", [])]
        d["latency"] = [LatencyPoint(**p) for p in d.get("latency", [])]
        d["failure"] = [FailurePoint(**p) for p in d.get("failure", [])]
        d["targets"] = [Target(**t) for t in d.get("targets", [])]
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BenchResult:
        return cls.from_dict(json.loads(text))


# --- ratios ---------------------------------------------------------------------------------

def ratio(a: Measurement, b: Measurement) -> float | None:
    """``a``'s events/s as a multiple of ``b``'s; None when either was not exact (a wrong
    run's speed means nothing) or ``b`` has no rate. ``exact=None`` (nothing to check)
    is usable."""
    if not a.counts or not b.counts or b.events_per_s <= 0:
        return None
    return a.events_per_s / b.events_per_s


def add_ratio(m: Measurement, reference: Measurement, label: str | None = None) -> float | None:
    """Record ``ratio(m, reference)`` in ``m.extra`` under ``ratio:<label>`` (the reference's
    subject by default) and return it; a refused ratio is recorded as text saying why."""
    r = ratio(m, reference)
    key = RATIO_PREFIX + (label or reference.subject)
    if r is not None:
        m.extra[key] = r
    elif not m.counts:
        m.extra[key] = "none: this run is not exact"
    elif not reference.counts:
        m.extra[key] = "none: reference not exact"
    else:
        m.extra[key] = "none: reference has no rate"
    return r


# --- formatting -----------------------------------------------------------------------------

def _num(v: float | str | None, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int) or (math.isfinite(v) and v == int(v) and abs(v) >= 100):
        return f"{int(v):,}"
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}" if abs(v) >= 1 else f"{v:.{digits + 2}g}"


def _ratio_text(m: Measurement) -> str:
    parts = []
    for ref, v in m.ratios():
        if not m.counts:
            parts.append(f"— vs {ref} (not exact)")
        elif isinstance(v, str):
            parts.append(f"{v} ({ref})")
        else:
            parts.append(f"{_times(v)}x {ref}")
    return "; ".join(parts)


def _times(v: float) -> str:
    return f"{v:.1f}" if v >= 10 else (f"{v:.2f}" if v >= 1 else f"{v:.2g}")


def _details_text(extra: Extra) -> str:
    return "; ".join(f"{k.replace('_', ' ')} {_num(v)}" for k, v in extra.items())


def _exact_md(exact: bool | None) -> str:
    return "n/a" if exact is None else ("✓" if exact else f"**✗ {NOT_EXACT}**")


def _rate_md(m: Measurement) -> str:
    s = _num(m.events_per_s)
    return s if m.counts else f"~~{s}~~"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]],
           right: Sequence[bool] | None = None) -> str:
    right = right or [False] * len(header)
    esc = [[c.replace("|", "\\|") for c in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in esc]
    return "\n".join(lines)


_MACHINE_LABELS = {"cpu": "CPU", "cores": "cores", "ram": "RAM", "os": "OS"}


def _key_values(d: dict[str, Any], labels: dict[str, str] | None = None,
                head: tuple[str, str] = ("", "")) -> str:
    labels = labels or {}
    keys = [k for k in labels if k in d] + [k for k in d if k not in labels]
    return _table(head, [[labels.get(k, k), _num(d[k])] for k in keys])


# --- docs/benchmarks.md ---------------------------------------------------------------------

def markdown(result: BenchResult, chart: str = "benchmarks.png") -> str:
    """The body of docs/benchmarks.md; ``chart`` is the chart's path relative to the file."""
    r = result
    out = ["<!-- written by scripts/bench (tools/bench); edit the code, not this file -->",
           "# Benchmarks", "",
           "How fast the counting job (Kafka -> PyFlink -> Cassandra counter tables) is on "
           "the local stack: one Kafka broker, one Cassandra node and Flink on the machine "
           "below, all started by `scripts/stack`. Each scenario produces a known workload "
           "and runs until every counter row in Cassandra holds its truth; the counters "
           "are then checked against the ground truth. A measurement whose counters were "
           f"not exact is marked **{NOT_EXACT}**: its events/s is struck through and no "
           "ratio or target uses it. Ceilings (Flink SQL into a blackhole, a raw Kafka "
           "consume) and the Python peers bound what the job could reach on the same "
           f"machine. Run started {r.started}, took {_duration(r.duration_s)}.", ""]
    if r.mode != "full":
        out += [f"> **{r.mode} run**: reduced sizes, a smoke check of the benchmark itself; "
                "these are not the reference figures.", ""]
    bad = r.not_exact()
    if bad:
        out += [f"> **{NOT_EXACT}**: {len(bad)} measurement(s) did not end with exact "
                "counters: " + "; ".join(bad) + ".", ""]
    restarted = r.restarted()
    if restarted:
        out += [f"> **{RESTARTED}**: the job failed and restarted during "
                f"{len(restarted)} run(s) (how often): " + "; ".join(restarted) + ".", ""]
    if r.targets:
        met = sum(t.met for t in r.targets)
        out += [f"Targets: **{met} of {len(r.targets)} met**"
                + ("." if met == len(r.targets) else
                   f"; missed: {', '.join(t.name for t in r.targets if not t.met)}."), ""]
    out += ["## Command", "", "```bash", r.command, "```", "",
            "## Machine", "", _key_values(r.machine, _MACHINE_LABELS, ("machine", "")), "",
            "## Versions", "", _key_values(r.versions, head=("component", "version")), ""]

    out += ["## Throughput", ""]
    if r.measurements:
        rows = [[m.scenario, m.subject, _num(m.events), _num(m.seconds), _rate_md(m),
                 _exact_md(m.exact), _ratio_text(m), _details_text(m.details())]
                for m in r.measurements]
        out += [_table(["scenario", "subject", "events", "seconds", "events/s", "exact",
                        "ratio", "details"], rows,
                       [False, False, True, True, True, False, False, False]), ""]
    else:
        out += ["Not run.", ""]

    out += ["## Latency", "", "Produce -> visible in `room_totals`, at fixed offered rates "
            f"(target: p99 <= {LATENCY_TARGET_MS / 1000:g} s at 20,000 ev/s).", ""]
    if r.latency:
        rows = [[_num(p.rate), _num(p.achieved_rate), _num(p.samples), _num(p.p50_ms),
                 _num(p.p95_ms), _num(p.p99_ms), _keeps_up(p), _num(p.max_lag),
                 _exact_md(p.exact)] for p in r.latency]
        out += [_table(["offered ev/s", "achieved ev/s", "samples", "p50 ms", "p95 ms",
                        "p99 ms", "keeps up", "largest lag", "exact"], rows,
                       [True] * 6 + [False, True, False]), "",
                "Keeps up: the producer reached >= 0.98x the offered rate, and the Kafka lag "
                "in the last third of the run was at most 5 s of events or 1.5x the first "
                "third's (bounded, not growing).", ""]
    else:
        out += ["Not run.", ""]

    out += ["### Through a failure", "", "The same probes at a fixed rate with 60 s windows, "
            "through a TaskManager kill -9 with a new TaskManager started at once (as a "
            "supervisor would). Longest freeze: the longest time in the measured window in "
            "which no probe room's count moved. Settled: p99 of the next 30 s of probe "
            "events <= 1 s, counted from the job's start and from the kill.", ""]
    if r.failure:
        rows = [[_num(p.rate), _num(p.seconds, 0), _num(p.samples), _num(p.p50_ms),
                 _num(p.p95_ms), _num(p.p99_ms), _num(p.max_ms), _num(p.longest_freeze_s),
                 _num(p.settle_from_start_s), _num(p.settle_after_kill_s),
                 _num(p.checkpoints), _num(p.restarts), _exact_md(p.exact)]
                for p in r.failure]
        out += [_table(["ev/s", "s", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms",
                        "longest freeze s", "settled after start s", "settled after kill s",
                        "checkpoints", "restarts", "exact"], rows,
                       [True] * 12 + [False]), ""]
    else:
        out += ["Not run.", ""]

    out += ["## Where the time goes", "", "Per task (operator chain) of each drain, from "
            "Flink's task metrics sampled every 10 s and averaged over the drain: busy and "
            "backpressured ms per second (the larger of the subtasks) and records taken in "
            "per second (their sum; a source: records read). The bound is the busy task "
            "whose upstream is backpressured.", ""]
    if r.stages:
        for name, stages in r.stages.items():
            rows = [[str(st[0]), _num(st[1], 0), _num(st[2], 0), _num(st[3], 0)]
                    for st in stages]
            out += [f"**{name}**", "", _table(["task", "busy ms/s", "backpressured ms/s",
                                               "records in/s"], rows,
                                              [False, True, True, True]), ""]
    else:
        out += ["Not run.", ""]

    out += ["### Latency budget", "", "Where an event's time from produce to visible goes "
            "at each rate, stage by stage: how old events were as they passed each stage "
            "(median and p95 of the job's gauges `decoded_age_ms`, `aggregated_age_ms`, "
            "`sink_arrival_age_ms` and `persistence_delay_ms`, sampled every 5 s while "
            "measuring, largest subtask; visible: every probe event), and each stage's wait "
            "(its median less the stage before). Then the bounds the settings put on two "
            "waits, the sink's write round, and the one wait exactly-once adds: at each "
            "checkpoint the sink waits for its round to end before the barrier passes "
            "(`sink_last_drain_ms`).", ""]
    budgets = [p for p in r.latency if p.budget]
    if budgets:
        stages = list(dict.fromkeys(k.rsplit("|", 1)[0] for k in budgets[0].budget))
        heads, rows = ["stage"], []
        for p in budgets:
            heads += [f"{_num(p.rate)} ev/s: median ms", "p95 ms", "wait ms"]
        for stage in stages:
            row = [stage]
            for p in budgets:
                b = p.budget
                row += [_num(b.get(f"{stage}|median"), 0),
                        _num(b.get(f"{stage}|p95"), 0), _num(b.get(f"{stage}|wait"), 0)]
            rows.append(row)
        out += [_table(heads, rows, [False] + [True] * (len(heads) - 1)), ""]
    else:
        out += ["Not run.", ""]

    out += ["## Scale of state", ""]
    out += [_key_values(r.scale, head=("measure", "value")) if r.scale else "Not run.", ""]

    out += ["## Producer library", "", "Events/s one Python process reaches with "
            "`connectors.producer.CounterProducer` (calls include the flush until every "
            "event is acknowledged), with and without client-side merging of likes.", ""]
    if r.producer:
        rows = [[m.subject, _num(m.events), _num(m.seconds), _rate_md(m),
                 _num(m.extra.get(MESSAGES_PER_S)), _num(m.extra.get(MERGE_RATIO), 2),
                 _exact_md(m.exact), _details_text(m.details())] for m in r.producer]
        out += [_table(["subject", "calls", "seconds", "calls/s", "Kafka messages/s",
                        "taps per like message", "exact", "details"], rows,
                       [False, True, True, True, True, True, False, False]), ""]
    else:
        out += ["Not run.", ""]

    out += ["## Targets", ""]
    if r.targets:
        rows = [[t.name, t.goal, t.value, "met" if t.met else "**missed**"] for t in r.targets]
        out += [_table(["target", "goal", "measured", "result"], rows), ""]
    else:
        out += ["None evaluated.", ""]

    if r.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in r.notes] + [""]
    out += ["## Chart", "", f"![throughput, latency and producer rates]({chart})", ""]
    return "\n".join(out)


def _duration(s: float) -> str:
    s = round(s)
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


# --- the terminal ---------------------------------------------------------------------------

def _fixed(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w)
                         for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _exact_tty(exact: bool | None) -> str:
    return "n/a" if exact is None else ("yes" if exact else NOT_EXACT)


def console_table(result: BenchResult) -> str:
    """A compact fixed-width summary for the terminal."""
    r = result
    parts = [f"live-counters benchmarks ({r.mode}), {r.started}, {_duration(r.duration_s)}"]
    if r.measurements:
        rows = [[m.scenario, m.subject, _num(m.events), _num(m.seconds),
                 _num(m.events_per_s) if m.counts else "(" + _num(m.events_per_s) + ")",
                 _exact_tty(m.exact), _ratio_text(m)] for m in r.measurements]
        parts.append(_fixed(["scenario", "subject", "events", "s", "events/s", "exact",
                             "ratio"], rows, [False, False, True, True, True, False, False]))
    if r.latency:
        rows = [[_num(p.rate), _num(p.achieved_rate), _num(p.samples), _num(p.p50_ms),
                 _num(p.p95_ms), _num(p.p99_ms), _keeps_up(p), _exact_tty(p.exact)]
                for p in r.latency]
        parts.append(_fixed(["latency at ev/s", "achieved", "samples", "p50 ms", "p95 ms",
                             "p99 ms", "keeps up", "exact"], rows, [True] * 6 + [False] * 2))
    if r.failure:
        rows = [[_num(p.rate), _num(p.p50_ms), _num(p.p99_ms), _num(p.max_ms),
                 _num(p.longest_freeze_s), _num(p.settle_from_start_s),
                 _num(p.settle_after_kill_s), _exact_tty(p.exact)] for p in r.failure]
        parts.append(_fixed(["through a kill at ev/s", "p50 ms", "p99 ms", "max ms",
                             "freeze s", "settle s", "after kill s", "exact"], rows,
                            [True] * 7 + [False]))
    if r.scale:
        parts.append(_fixed(["scale of state", "value"],
                            [[k, _num(v)] for k, v in r.scale.items()], [False, True]))
    if r.producer:
        rows = [[m.subject, _num(m.events_per_s) if m.counts else "(" + _num(m.events_per_s)
                 + ")", _num(m.extra.get(MESSAGES_PER_S)),
                 _num(m.extra.get(MERGE_RATIO), 2), _exact_tty(m.exact)] for m in r.producer]
        parts.append(_fixed(["producer", "calls/s", "messages/s", "taps/msg", "exact"], rows,
                            [False, True, True, True, False]))
    if r.targets:
        rows = [[t.name, t.goal, t.value, "met" if t.met else "MISSED"] for t in r.targets]
        parts.append(_fixed(["target", "goal", "measured", "result"], rows,
                            [False, False, False, False]))
    bad = r.not_exact()
    if bad:
        parts.append(f"{NOT_EXACT}: " + "; ".join(bad))
    if r.restarted():
        parts.append(f"{RESTARTED}: " + "; ".join(r.restarted()))
    return "\n\n".join(parts) + "\n"


# --- the chart ------------------------------------------------------------------------------

_EXACT, _CEILING, _WRONG = "#3b6ea8", "#9a9a9a", "#e07070"


def _bar_color(exact: bool | None) -> str:
    return _CEILING if exact is None else (_EXACT if exact else _WRONG)


def _human(v: float, _pos: object = None) -> str:
    """An axis label: 950, 12k, 1.5M."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def _hbars(ax: Any, labels: list[str], series: list[tuple[str, list[float], list[str]]],
           xlabel: str, flags: list[str]) -> None:
    """Horizontal bars, one group per label; log scale when the values spread over 30x."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    n, k = len(labels), len(series)
    height = 0.8 / k
    values = [v for _, vs, _ in series for v in vs if v > 0]
    log = bool(values) and max(values) / min(values) > 30
    top = max(values, default=1.0)
    for j, (name, vs, colors) in enumerate(series):
        ys = [i + (j - (k - 1) / 2) * height for i in range(n)]
        ax.barh(ys, [max(v, 0) for v in vs], height=height * 0.92, color=colors,
                label=name if k > 1 else None)
        for y, v, c in zip(ys, vs, colors, strict=True):
            if c == _WRONG:
                ax.barh([y], [max(v, 0)], height=height * 0.92, color="none",
                        edgecolor="#a00000", hatch="//")
            x = v * 1.05 if log else v + top * 0.01
            ax.text(max(x, top * 1e-3), y, f"{v:,.0f}", va="center", fontsize=9)
    for i, f in enumerate(flags):
        if f:
            ax.text(0.995, i, f, transform=ax.get_yaxis_transform(), ha="right",
                    va="center", fontsize=9, color="#a00000", fontweight="bold")
    ax.set_yticks(range(n), labels, fontsize=9)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 2, top * 6)
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_xlim(0, top * 1.2)
    ax.xaxis.set_major_formatter(FuncFormatter(_human))
    ax.set_xlabel(xlabel + (" (log scale)" if log else ""))
    ax.grid(axis="x", alpha=0.3, which="both" if log else "major")
    if k > 1:
        ax.legend(loc="lower right", fontsize=9)


def _throughput_panel(ax: Any, ms: list[Measurement]) -> None:
    labels = [f"{m.subject}\n{m.scenario}" for m in ms]
    _hbars(ax, labels, [("events/s", [m.events_per_s for m in ms],
                         [_bar_color(m.exact) for m in ms])],
           "events/s", [NOT_EXACT if not m.counts else "" for m in ms])
    ax.set_title("Throughput (grey: ceiling, nothing to count; red: not exact)", fontsize=11)


def _keeps_up(p: LatencyPoint) -> str:
    return "n/a" if p.keeps_up is None else "yes" if p.keeps_up else "NO"


def _latency_panel(ax: Any, points: list[LatencyPoint]) -> None:
    from matplotlib.ticker import FuncFormatter

    names = [("p50", "p50_ms", "#8fb3d9"), ("p95", "p95_ms", "#3b6ea8"),
             ("p99", "p99_ms", "#1b3a5c")]
    width = 0.8 / len(names)
    top = LATENCY_TARGET_MS
    for j, (name, attr, color) in enumerate(names):
        xs = [i + (j - 1) * width for i in range(len(points))]
        raw = [getattr(p, attr) for p in points]
        vs = [v or 0.0 for v in raw]
        top = max(top, *vs)
        ax.bar(xs, vs, width=width * 0.92, color=color, label=name)
        for x, v in zip(xs, raw, strict=True):
            ax.text(x, v or 0.0, "n/a" if v is None else f"{v:,.0f}", ha="center",
                    va="bottom", fontsize=8)
    ax.axhline(LATENCY_TARGET_MS, color="#c03030", linestyle="--", linewidth=1.2,
               label=f"target p99 ≤ {LATENCY_TARGET_MS / 1000:g} s (at 20k ev/s)")
    ticks = [f"{p.rate:,} ev/s\n(achieved {p.achieved_rate:,.0f})"
             + (f"\n{NOT_EXACT}" if not p.exact else "") for p in points]
    ax.set_xticks(range(len(points)), ticks, fontsize=9)
    ax.set_ylim(0, top * 1.2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.set_ylabel("produce -> visible (ms)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title("Latency percentiles by offered rate", fontsize=11)


def _producer_panel(ax: Any, ms: list[Measurement]) -> None:
    labels = [m.subject for m in ms]
    calls = [m.events_per_s for m in ms]
    msgs = [float(v) if isinstance(v := m.extra.get(MESSAGES_PER_S), int | float) else 0.0
            for m in ms]
    _hbars(ax, labels, [("calls/s (taps and gifts offered)", calls,
                         [_EXACT if m.counts else _WRONG for m in ms]),
                        ("Kafka messages/s sent", msgs,
                         ["#e0a040" if m.counts else _WRONG for m in ms])],
           "per second", [NOT_EXACT if not m.counts else "" for m in ms])
    ax.set_title("Producer library, one Python process", fontsize=11)


def draw_chart(result: BenchResult, path: Path) -> None:
    """A PNG, 1200 px wide: throughput per subject, latency percentiles per rate with the
    1.5 s target, and the producer's rates; panels without data are left out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels: list[tuple[float, Callable[[Any], None]]] = []
    r = result
    if r.measurements:
        panels.append((1.2 + 0.55 * len(r.measurements),
                       lambda ax: _throughput_panel(ax, r.measurements)))
    if r.latency:
        panels.append((4.0, lambda ax: _latency_panel(ax, r.latency)))
    if r.producer:
        panels.append((1.4 + 0.8 * len(r.producer), lambda ax: _producer_panel(ax, r.producer)))
    heights = [h for h, _ in panels] or [2.0]
    fig = Figure(figsize=(12, sum(heights) + 0.9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(h_pad=0.15)
    axes = fig.subplots(len(heights), 1, gridspec_kw={"height_ratios": heights},
                        squeeze=False)[:, 0]
    for ax, (_, draw) in zip(axes, panels, strict=False):
        draw(ax)
    if not panels:
        axes[0].text(0.5, 0.5, "no results", ha="center", va="center", fontsize=14)
        axes[0].set_axis_off()
    cpu = r.machine.get("cpu", "")
    cores = r.machine.get("cores", "")
    title = f"live-counters benchmarks: {r.mode} run, {r.started[:10]}"
    if cpu or cores:
        title += f" ({cores} cores, {cpu})" if cores else f" ({cpu})"
    if r.not_exact():
        title += f"  [{NOT_EXACT}]"
    fig.suptitle(title, fontsize=12, fontweight="bold")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")


# --- writing --------------------------------------------------------------------------------

def write(result: BenchResult, md_path: Path, png_path: Path,
          json_path: Path | None = None) -> None:
    """Write the markdown (linking the chart by its path relative to ``md_path``), the chart,
    and the result as JSON (at ``json_path``, by default next to the chart)."""
    json_path = json_path or png_path.with_suffix(".json")
    chart = Path(os.path.relpath(png_path.resolve(), md_path.resolve().parent)).as_posix()
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(result, chart=chart))
    draw_chart(result, png_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(result.to_json())
