"""``scripts/watch``: the job's signals live in a terminal, from Flink's Prometheus endpoints.

For a user without Prometheus or Grafana: every ``--interval`` seconds it scrapes the
JobManager's and TaskManagers' ``/metrics`` (``jobs.counters.ops.signals``), and prints the event
rate per topic, lag per partition (the topic's end offset in Kafka minus the source's
position), dead letters, duplicates, late events, counted events, counter rows, ambiguous
writes, persistence delay, the last checkpoint and restarts. ``--once`` prints one snapshot
(rates need two scrapes: it takes two, ``--interval`` apart).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from connectors.kafka_admin import end_offsets as ends
from connectors.kafka_config import KafkaConfig
from jobs.counters.ops.signals import BY_KEY, SIGNALS, TASKMANAGER, Signal

DEFAULT_ENDPOINTS = [f"127.0.0.1:{p}" for p in range(9249, 9260)]  # metrics.reporter.prom.port


@dataclass
class Snapshot:
    """One scrape, reduced to what the view shows."""

    at: float
    totals: dict[str, float] = field(default_factory=dict)   # signal key -> combined value
    offsets: dict[tuple[str, int], float] = field(default_factory=dict)  # (topic, partition)
    endpoints: int = 0


def reduce(at: float, samples: list[tuple[str, dict[str, str], float]],
           job_name: str | None = None, job_id: str | None = None) -> Snapshot:
    """Scraped samples (name, labels, value) -> one value per signal, and the source's
    position per partition. Only series of ``job_name`` / ``job_id`` if given."""
    by_metric: dict[str, Signal] = {s.metric: s for s in SIGNALS}
    values: dict[str, list[float]] = defaultdict(list)
    snap = Snapshot(at)
    for name, labels, value in samples:
        sig = by_metric.get(name)
        if sig is None or value != value:  # not ours, or NaN (a gauge with no value yet)
            continue
        of_process = sig.metric.startswith(TASKMANAGER)  # no job labels
        if job_name is not None and labels.get("job_name") != job_name and not of_process:
            continue
        if job_id is not None and labels.get("job_id") != job_id and not of_process:
            continue
        if sig.key == "events_in_by_partition":
            tp = (labels.get("topic", "?"), int(labels.get("partition", -1)))
            snap.offsets[tp] = max(snap.offsets.get(tp, value), value)
            continue
        values[sig.key].append(value)
    for key, vals in values.items():
        combine = BY_KEY[key].combine
        if combine == "oldest":
            snap.totals[key] = min((v for v in vals if v > 0), default=0)
        else:
            snap.totals[key] = sum(vals) if combine == "sum" else max(vals)
    return snap


def render(prev: Snapshot | None, cur: Snapshot,
           end_offsets: dict[tuple[str, int], int] | None = None) -> str:
    """The view of ``cur`` (rates against ``prev``), as text."""
    dt = (cur.at - prev.at) if prev else 0.0
    lines = [time.strftime("%H:%M:%S", time.localtime(cur.at))
             + f"  live-counters  ({cur.endpoints} Prometheus endpoints answered)"]
    if not cur.totals and not cur.offsets:
        lines.append("  no job metrics yet: is the job running (and the reporter enabled)?")
        return "\n".join(lines)

    def rate(key: str) -> str:
        if not prev or dt <= 0 or key not in cur.totals or key not in prev.totals:
            return ""
        return f"{(cur.totals[key] - prev.totals[key]) / dt:>10,.0f}/s"

    topics: dict[str, float] = defaultdict(float)
    if prev and dt > 0:
        for tp, off in cur.offsets.items():
            if tp in prev.offsets:
                topics[tp[0]] += (off - prev.offsets[tp]) / dt
    lines.append("  events in per topic: " + (", ".join(
        f"{t} {r:,.0f}/s" for t, r in sorted(topics.items())) or "(after two scrapes)"))
    if end_offsets is not None:
        lag = {tp: max(0, end_offsets[tp] - int(off) - 1)
               for tp, off in sorted(cur.offsets.items()) if tp in end_offsets}
        lines.append("  lag per partition:   " + (", ".join(
            f"{t}[{p}] {n:,}" for (t, p), n in lag.items()) or "(no partitions seen)"))
    for sig in SIGNALS:
        if sig.key == "events_in_by_partition" or sig.key not in cur.totals:
            continue
        v, unit = cur.totals[sig.key], sig.unit
        if sig.combine == "oldest":  # a time: show how long ago (0: nothing waits)
            v, unit = (max(0.0, cur.at * 1000 - v) if v else 0.0), "ms ago"
        lines.append(f"  {sig.key:<22}{v:>16,.0f} {unit:<8}{rate(sig.key) if sig.rate else ''}")
    return "\n".join(lines)


def one_line(snap: Snapshot) -> str:
    """The main signals in one line (for progress messages)."""
    t = snap.totals
    if not t:
        return "no job metrics yet"
    parts = [f"{label} {t[key]:,.0f}{unit}" for key, label, unit in (
        ("events_in", "read", ""), ("events_counted", "counted", ""), ("lag", "lag", ""),
        ("dlq_records", "dead letters", ""), ("persistence_delay", "persistence delay", " ms"),
        ("restarts", "restarts", "")) if key in t]
    return ", ".join(parts)


def parse_text(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value)
            for fam in text_string_to_metric_families(text) for s in fam.samples]


def scrape(endpoints: list[str], timeout: float = 2.0
           ) -> tuple[list[tuple[str, dict[str, str], float]], int]:
    """The samples of every endpoint that answers, and how many answered (unreachable ones
    are skipped: a range of ports has more ports than processes)."""
    samples: list[tuple[str, dict[str, str], float]] = []
    answered = 0
    for ep in endpoints:
        try:
            with urllib.request.urlopen(f"http://{ep}/metrics", timeout=timeout) as resp:
                samples += parse_text(resp.read().decode())
            answered += 1
        except OSError:
            continue
    return samples, answered


def snapshot(endpoints: list[str], job_name: str | None = None,
             job_id: str | None = None) -> Snapshot:
    at = time.time()
    samples, answered = scrape(endpoints)
    snap = reduce(at, samples, job_name, job_id)
    snap.endpoints = answered
    return snap


def end_offsets(bootstrap: str, partitions: list[tuple[str, int]],
                client: dict | None = None) -> dict | None:
    """The end offset of each partition in Kafka (None if Kafka does not answer); ``client``:
    kafka-python security settings."""
    if not partitions:
        return {}
    try:

        got = ends(bootstrap, sorted({t for t, _ in partitions}), client,
                   request_timeout_ms=5000)
        return {tp: off for tp, off in got.items() if tp in set(partitions)}
    except Exception:  # noqa: BLE001 - the view goes on without lag
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/watch",
                                description=__doc__.split("\n\n")[1].replace("``", ""),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoints", nargs="+", default=DEFAULT_ENDPOINTS, metavar="HOST:PORT",
                   help="Prometheus endpoints of the JobManager and TaskManagers "
                        "(default: 127.0.0.1, ports 9249-9259)")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                   help="Kafka, for the end offsets behind the lag per partition "
                        "(default: $KAFKA_BOOTSTRAP or 127.0.0.1:9092)")
    p.add_argument("--kafka-config", metavar="FILE",
                   default=os.environ.get("LIVE_COUNTERS_KAFKA_CONFIG"),
                   help="Kafka client properties (TLS, SASL), as the job's --kafka-config "
                        "(default: $LIVE_COUNTERS_KAFKA_CONFIG)")
    p.add_argument("--job-name", help="only this job's series (default: every job)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between scrapes")
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")
    a = p.parse_args(argv)
    client = None
    if a.kafka_config:

        try:
            client = KafkaConfig.from_file(a.kafka_config).kafka_python()
        except (OSError, ValueError) as exc:
            p.error(f"--kafka-config: {exc}")
    prev = snapshot(a.endpoints, a.job_name)
    if not prev.endpoints:
        print(f"error: no Prometheus endpoint answers at {' '.join(a.endpoints[:3])}...: is "
              "Flink running with flink-conf/config.yaml (metrics.reporter.prom)?",
              file=sys.stderr)
        return 1
    try:
        while True:
            time.sleep(a.interval)
            cur = snapshot(a.endpoints, a.job_name)
            view = render(prev, cur, end_offsets(a.bootstrap, sorted(cur.offsets), client))
            if a.once:
                print(view)
                return 0
            print("\033[2J\033[H" + view if sys.stdout.isatty() else view + "\n", flush=True)
            prev = cur
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
