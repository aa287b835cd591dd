"""The operators' view is one table (jobs/counters/ops/signals.py): the dashboard, the alert rules
and docs/monitoring.md name only its metrics, and every signal is on the dashboard and in
docs/monitoring.md;
the terminal view reduces scraped series to it."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from jobs.counters.ops.signals import BY_KEY, JOB, OPERATOR, SIGNALS
from jobs.counters.ops.watch import parse_text, reduce, render
from jobs.counters.sink.counter_sink import SINK_METRICS
from local_stack.paths import DEPLOY_DIR, REPO_ROOT

pytestmark = pytest.mark.unit

METRIC = re.compile(r"\bflink_[A-Za-z0-9_]+")
KNOWN = {s.metric for s in SIGNALS}


def _dashboard() -> dict:
    return json.loads((DEPLOY_DIR / "grafana" / "live-counters.json").read_text())


def _exprs(panels) -> list[str]:
    return [t["expr"] for p in panels for t in p["targets"]]


def test_dashboard_uses_only_signals_and_shows_each():
    exprs = _exprs(_dashboard()["panels"])
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert used <= KNOWN, used - KNOWN
    assert used == KNOWN, f"signals without a panel: {KNOWN - used}"


def test_dashboard_panels_do_not_overlap():
    boxes = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in _dashboard()["panels"]]
    assert len(boxes) == len(set(boxes))


def test_alert_rules_use_only_signals():
    rules = yaml.safe_load((DEPLOY_DIR / "prometheus" / "alerts.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert {a["alert"] for a in alerts} >= {"LiveCountersLagGrowing",
                                            "LiveCountersPersistenceDelayHigh",
                                            "LiveCountersDeadLettersHigh",
                                            "LiveCountersRestarting"}
    for a in alerts:
        used = set(METRIC.findall(a["expr"]))
        assert used and used <= KNOWN, (a["alert"], used - KNOWN)


def test_monitoring_page_lists_every_signal():
    page = (REPO_ROOT / "docs" / "monitoring.md").read_text()
    for s in SIGNALS:
        assert f"`{s.metric}`" in page, s.metric


def test_sink_metrics_are_signals_where_operators_need_them():
    ours = {s.metric.removeprefix(OPERATOR) for s in SIGNALS if s.metric.startswith(OPERATOR)}
    assert {"events_counted", "duplicates_dropped", "sink_rows_written", "sink_rows_read",
            "sink_ambiguous_rows", "persistence_delay_ms"} <= ours & set(SINK_METRICS)


def test_reporter_enabled_on_the_documented_ports():
    conf = yaml.safe_load((REPO_ROOT / "flink-conf" / "config.yaml").read_text())
    prom = conf["metrics"]["reporter"]["prom"]
    assert prom["factory"]["class"].endswith("PrometheusReporterFactory")
    assert prom["port"] == "9249-9259"
    assert prom["filterLabelValueCharacters"] is False  # topic labels equal Kafka's names


_OFF = OPERATOR + "KafkaSourceReader_topic_partition_currentOffset"
_LC = 'job_name="live-counters"'
SCRAPE = f"""\
# HELP {OPERATOR}events_counted events_counted
# TYPE {OPERATOR}events_counted gauge
{OPERATOR}events_counted{{{_LC},subtask_index="0",}} 700.0
{OPERATOR}events_counted{{{_LC},subtask_index="1",}} 300.0
{OPERATOR}events_counted{{job_name="other",subtask_index="0",}} 5.0
# TYPE {OPERATOR}persistence_delay_ms gauge
{OPERATOR}persistence_delay_ms{{{_LC},subtask_index="0",}} 800.0
{OPERATOR}persistence_delay_ms{{{_LC},subtask_index="1",}} 1200.0
# TYPE {_OFF} gauge
{_OFF}{{{_LC},topic="live.likes",partition="0",}} 99.0
{_OFF}{{{_LC},topic="live.gifts",partition="1",}} 9.0
# TYPE {JOB}numRestarts gauge
{JOB}numRestarts{{{_LC},}} 0.0
# TYPE flink_jobmanager_Status_JVM_CPU_Load gauge
flink_jobmanager_Status_JVM_CPU_Load 0.5
"""


def test_watch_reduces_a_scrape_per_signal():
    snap = reduce(10.0, parse_text(SCRAPE), job_name="live-counters")
    assert snap.totals["events_counted"] == 1000  # summed over subtasks
    assert snap.totals["persistence_delay"] == 1200  # the worst subtask
    assert snap.totals["restarts"] == 0
    assert snap.offsets == {("live.likes", 0): 99, ("live.gifts", 1): 9}
    assert "other" not in str(snap.totals)
    assert reduce(10.0, parse_text(SCRAPE)).totals["events_counted"] == 1005  # every job


def test_watch_view_shows_rates_and_lag():
    prev = reduce(10.0, parse_text(SCRAPE), "live-counters")
    later = SCRAPE.replace("} 700.0", "} 1700.0").replace("} 99.0", "} 199.0")
    cur = reduce(12.0, parse_text(later), "live-counters")
    view = render(prev, cur, end_offsets={("live.likes", 0): 250, ("live.gifts", 1): 10})
    assert "live.likes 50/s" in view and "live.gifts 0/s" in view
    assert "live.likes[0] 50" in view and "live.gifts[1] 0" in view  # end - next to read
    line = next(ln for ln in view.splitlines() if ln.strip().startswith("events_counted"))
    assert "2,000" in line and "500/s" in line
    assert BY_KEY["restarts"].metric.startswith(JOB)


def test_watch_says_when_there_is_nothing_to_show():
    assert "no job metrics yet" in render(None, reduce(1.0, [], None))


def test_watch_shows_how_long_the_oldest_unconfirmed_truth_has_waited():
    since = OPERATOR + "sink_unconfirmed_since_ms"
    scrape = (f"# TYPE {since} gauge\n"
              f'{since}{{{_LC},subtask_index="0",}} 0.0\n'            # nothing waits
              f'{since}{{{_LC},subtask_index="1",}} 1000000.0\n'      # waits since 1,000 s
              f'{since}{{{_LC},subtask_index="2",}} 1004000.0\n')
    snap = reduce(1_010.0, parse_text(scrape), "live-counters")
    assert snap.totals["unconfirmed_since"] == 1_000_000  # the oldest non-zero
    line = next(ln for ln in render(None, snap).splitlines()
                if ln.strip().startswith("unconfirmed_since"))
    assert "10,000 ms ago" in line
    idle = reduce(1_010.0, parse_text(scrape.replace("1000000.0", "0.0")
                                      .replace("1004000.0", "0.0")), "live-counters")
    assert " 0 ms ago" in render(None, idle)
