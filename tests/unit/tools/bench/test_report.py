"""The benchmark report: docs/benchmarks.md, the terminal table, the chart, the ratio rules."""

from __future__ import annotations

import pytest

from tools.bench.report import (
    MERGE_RATIO,
    MESSAGES_PER_S,
    NOT_EXACT,
    RESTARTED,
    RESTARTS,
    BenchResult,
    LatencyPoint,
    Measurement,
    Target,
    add_ratio,
    console_table,
    draw_chart,
    markdown,
    ratio,
    write,
)

pytestmark = pytest.mark.unit

COMMAND = "scripts/bench --quick --seed 7"


def m(subject: str, events: int, seconds: float, exact: bool | None,
      scenario: str = "1 backlog drain", **extra) -> Measurement:
    return Measurement(scenario, subject, events, seconds, exact, dict(extra))


def result(**kw) -> BenchResult:
    job = m("counting job", 1_800_000, 10.0, True)
    peer = m("kafka-python peer", 500_000, 10.0, True, scenario="3 Python peer")
    ceiling = m("datagen -> blackhole", 9_000_000, 10.0, None, scenario="2 ceilings")
    add_ratio(job, peer)
    add_ratio(job, ceiling, "SQL ceiling")
    base = dict(
        mode="full", command=COMMAND, started="2026-11-21T12:00:00+00:00", duration_s=754.0,
        machine={"os": "Debian 12", "cpu": "Test CPU 9000", "cores": "2", "ram": "24 GiB"},
        versions={"Python": "3.11.7", "Java": "17.0.12", "Flink": "2.2.1", "Kafka": "4.3.1",
                  "Cassandra": "5.0.9", "kafka-python": "3.0.12"},
        measurements=[job, peer, ceiling],
        latency=[LatencyPoint(5000, 4998.0, 60, 310.0, 620.0, 900.0, True),
                 LatencyPoint(20000, 19950.0, 60, 450.0, 980.0, 1320.0, True)],
        scale={"rooms": 1_000_000, "checkpoint size (MiB)": 181.5},
        producer=[m("merge_ms=200", 600_000, 10.0, True, "7 producer library",
                    **{MESSAGES_PER_S: 21_000.0, MERGE_RATIO: 2.86}),
                  m("merge_ms=0", 300_000, 10.0, True, "7 producer library",
                    **{MESSAGES_PER_S: 30_000.0, MERGE_RATIO: 1.0})],
        targets=[Target("backlog drain", ">= 150,000 ev/s", "180,000 ev/s", True),
                 Target("p99 at 20k ev/s", "<= 1.5 s", "1.32 s", True),
                 Target("hot room", ">= 0.8x uniform", "0.61x", False)],
        notes=["a note about the run"])
    return BenchResult(**(base | kw))


@pytest.mark.parametrize(("a", "b", "want"), [
    (m("a", 300, 1.0, True), m("b", 100, 1.0, True), 3.0),
    (m("a", 300, 1.0, True), m("b", 100, 2.0, None), 6.0),    # a ceiling: nothing to check
    (m("a", 300, 1.0, None), m("b", 100, 1.0, True), 3.0),
    (m("a", 300, 1.0, False), m("b", 100, 1.0, True), None),  # a wrong run does not count
    (m("a", 300, 1.0, True), m("b", 100, 1.0, False), None),
    (m("a", 300, 1.0, False), m("b", 100, 1.0, False), None),
    (m("a", 300, 1.0, True), m("b", 0, 1.0, True), None),     # no rate to compare with
    (m("a", 300, 1.0, True), m("b", 100, 0.0, True), None),
])
def test_ratio_rules(a, b, want):
    assert ratio(a, b) == (pytest.approx(want) if want is not None else None)


def test_add_ratio_records_the_ratio_or_why_there_is_none():
    job, peer = m("job", 300, 1.0, True), m("peer", 100, 1.0, True)
    assert add_ratio(job, peer) == pytest.approx(3.0)
    assert job.extra["ratio:peer"] == pytest.approx(3.0)
    wrong = m("fast but wrong", 900, 1.0, False)
    assert add_ratio(wrong, peer, "the peer") is None
    assert "not exact" in wrong.extra["ratio:the peer"]
    assert add_ratio(job, m("wrong peer", 1, 1.0, False)) is None
    assert "reference not exact" in job.extra["ratio:wrong peer"]


def test_events_per_s():
    assert m("a", 1000, 4.0, True).events_per_s == 250.0
    assert m("a", 1000, 0.0, True).events_per_s == 0.0


def test_markdown_has_command_machine_versions_and_every_table():
    md = markdown(result())
    assert f"```bash\n{COMMAND}\n```" in md
    for text in ("Test CPU 9000", "| cores | 2 |", "24 GiB", "Debian 12", "| Flink | 2.2.1 |",
                 "| Cassandra | 5.0.9 |", "| kafka-python | 3.0.12 |"):
        assert text in md
    for heading in ("## Throughput", "## Latency", "## Scale of state", "## Producer library",
                    "## Targets", "## Notes"):
        assert heading in md
    assert "| 1 backlog drain | counting job | 1,800,000 | 10.0 | 180,000 | ✓ |" in md
    assert "3.60x kafka-python peer" in md and "0.2x SQL ceiling" in md
    assert "| datagen -> blackhole | 9,000,000 | 10.0 | 900,000 | n/a |" in md
    assert "| 20,000 | 19,950 | 60 | 450 | 980 | 1,320 | n/a | — | ✓ |" in md
    assert "| rooms | 1,000,000 |" in md and "| checkpoint size (MiB) | 182 |" in md
    assert "| merge_ms=200 | 600,000 | 10.0 | 60,000 | 21,000 | 2.86 | ✓ |" in md
    assert "| hot room | >= 0.8x uniform | 0.61x | **missed** |" in md
    assert "Targets: **2 of 3 met**; missed: hot room." in md
    assert "- a note about the run" in md
    assert "![" in md and "(benchmarks.png)" in md


def test_a_clean_run_has_no_not_exact_marking():
    assert "NOT EXACT" not in markdown(result()).split("## Command")[1]
    assert result().not_exact() == []


def test_not_exact_is_loud_and_its_rate_is_struck_through():
    r = result()
    r.measurements[0].exact = False
    r.latency[1].exact = False
    md = markdown(r)
    assert f"> **{NOT_EXACT}**: 2 measurement(s)" in md
    assert "1 backlog drain: counting job" in md and "latency at 20,000 ev/s" in md
    row = next(line for line in md.splitlines() if line.startswith("| 1 backlog drain"))
    assert "~~180,000~~" in row and f"**✗ {NOT_EXACT}**" in row
    assert "3.60x" not in row                       # its ratios are not shown
    assert NOT_EXACT in console_table(r)
    assert "(180,000)" in console_table(r)


def test_a_run_whose_job_restarted_is_marked_and_a_clean_one_is_not():
    assert result().restarted() == []
    assert RESTARTED not in markdown(result())
    r = result()
    r.measurements[0].extra[RESTARTS] = 2
    r.latency[0].restarts = 1
    r.latency[1].restarts = 0
    md = markdown(r)
    assert (f"> **{RESTARTED}**: the job failed and restarted during 2 run(s) (how often): "
            "1 backlog drain: counting job (2); latency at 5,000 ev/s (1).") in md
    assert "restarts 2" in next(line for line in md.splitlines()
                                if line.startswith("| 1 backlog drain"))
    assert f"{RESTARTED}: 1 backlog drain: counting job (2)" in console_table(r)
    assert BenchResult.from_json(r.to_json()).restarted() == r.restarted()


def test_the_stages_of_each_drain_and_the_latency_budget_are_tables():
    r = result()
    r.stages = {"1 backlog drain: counting job": [
        ["Source -> decode", 880.4, 99.0, 10836.0], ["cassandra-counters", 266.0, 0.0, 1192.0]]}
    r.latency[0].budget = {"1 decoded|median": 12.0, "1 decoded|p95": 30.0,
                           "1 decoded|wait": 12.0, "5 visible|median": None,
                           "at most (a setting): the flush|wait": 500.0}
    md = markdown(r)
    section = md.split("## Where the time goes")[1].split("## Scale of state")[0]
    assert "**1 backlog drain: counting job**" in section
    assert "| Source -> decode | 880 | 99 | 10,836 |" in section
    assert "| cassandra-counters | 266 | 0 | 1,192 |" in section
    budget = section.split("### Latency budget")[1]
    assert "| stage | 5,000 ev/s: median ms | p95 ms | wait ms |" in budget
    assert "| 1 decoded | 12 | 30 | 12 |" in budget
    assert "| 5 visible | — | — | — |" in budget
    assert "| at most (a setting): the flush | — | — | 500 |" in budget
    assert "20,000" not in budget          # a rate without a budget has no row
    back = BenchResult.from_json(r.to_json())
    assert back.stages == r.stages and back.latency[0].budget == r.latency[0].budget


def test_a_run_without_drains_or_budgets_says_not_run():
    section = markdown(result()).split("## Where the time goes")[1].split("## Scale")[0]
    assert section.count("Not run.") == 2


def test_quick_mode_says_these_are_not_the_reference_figures():
    assert "not the reference figures" in markdown(result(mode="quick"))
    assert "not the reference figures" not in markdown(result())


def test_empty_sections_say_not_run():  # throughput, latency, failure, stages, budget, scale,
    # producer
    md = markdown(result(measurements=[], latency=[], scale={}, producer=[], targets=[]))
    assert md.count("Not run.") == 7 and "None evaluated." in md


def test_console_table_is_compact_and_complete():
    text = console_table(result())
    assert "counting job" in text and "180,000" in text and "1,320" in text
    assert "merge_ms=200" in text and "MISSED" in text
    assert max(len(line) for line in text.splitlines()) < 160


def test_json_round_trip():
    r = result()
    r.measurements[0].exact = False
    assert BenchResult.from_json(r.to_json()) == r


def test_chart_is_a_png(tmp_path):
    path = tmp_path / "out" / "benchmarks.png"
    draw_chart(result(), path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_chart_without_results(tmp_path):
    path = tmp_path / "empty.png"
    draw_chart(result(measurements=[], latency=[], producer=[]), path)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_write_puts_md_png_and_json_and_links_the_chart_relatively(tmp_path):
    md, png = tmp_path / "benchmarks.md", tmp_path / ".stack" / "bench" / "benchmarks.png"
    write(result(), md, png, json_path=tmp_path / "last.json")
    assert "(.stack/bench/benchmarks.png)" in md.read_text()
    assert png.stat().st_size > 0
    assert BenchResult.from_json((tmp_path / "last.json").read_text()) == result()
    write(result(), md, png)
    assert png.with_suffix(".json").exists()


def test_the_failure_run_is_a_table_and_json_round_trips():
    from tools.bench.report import BenchResult, FailurePoint

    fp = FailurePoint(5000, 180.0, 3_400, 420.0, 900.0, 2_100.0, 14_200.0, 13.5, 9.0, 21.5,
                      checkpoints=17, exact=True, restarts=1)
    r = result(failure=[fp])
    md = markdown(r)
    assert "### Through a failure" in md
    assert ("| 5,000 | 180 | 3,400 | 420 | 900 | 2,100 | 14,200 | 13.5 | 9.0 | 21.5 | 17 "
            "| 1 | ✓ |") in md
    assert BenchResult.from_json(r.to_json()).failure == [fp]
    assert "through a kill" in console_table(r)
    assert result(failure=[FailurePoint(5000, 180.0, 1, None, None, None, None, None, None,
                                        None, None, False)]).not_exact() == [
        "latency through a failure at 5,000 ev/s"]


def test_the_suite_writes_its_report_and_chart_side_by_side_under_docs():
    from local_stack.paths import REPO_ROOT
    from tools.bench.__main__ import CHART, DOC

    assert DOC == REPO_ROOT / "docs" / "benchmarks.md" and CHART.parent == DOC.parent
    assert f"({CHART.name})" in DOC.read_text()  # the chart link of markdown()'s default
