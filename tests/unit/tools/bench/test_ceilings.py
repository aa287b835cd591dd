"""The ceilings' SQL builders, the key distributions, and reading kafka-consumer-perf-test."""

from __future__ import annotations

import math
import re

import pytest

from jobs.counters import truth
from jobs.counters.aggregate.sql import TRUTH_SQL
from tools.bench import ceilings
from tools.bench.ceiling_job import CeilingSettings, job_settings, stage_statements
from tools.bench.ceilings import (
    DISTRIBUTIONS,
    HOT,
    LOG_UNIFORM,
    UNIFORM,
    consumer_perf_command,
    engine_ceiling_sql,
    kafka_consume_sql,
    parse_consumer_perf,
    parse_result,
    room_expression,
    room_probability,
)
from tools.bench.python_decode import DECODED_TYPE

pytestmark = pytest.mark.unit


def with_options(ddl: str) -> dict[str, str]:
    """The ``'key' = 'value'`` options of a CREATE TABLE statement."""
    return dict(re.findall(r"'([^']+)' = '([^']*)'", ddl))


# --- engine ceiling ----------------------------------------------------------------------------

def test_engine_statements_are_datagen_view_blackhole_and_the_insert():
    source, view, sink, insert = engine_ceiling_sql(10_000_000, 100_000, LOG_UNIFORM)
    assert source.startswith("CREATE TEMPORARY TABLE ceiling_events")
    assert view.startswith("CREATE TEMPORARY VIEW ceiling_keyed_events")
    assert with_options(sink) == {"connector": "blackhole"}
    assert insert.startswith("INSERT INTO ceiling_sink")


def test_the_source_is_bounded_and_unthrottled():
    opts = with_options(engine_ceiling_sql(10_000_000, 100_000, LOG_UNIFORM)[0])
    assert opts["connector"] == "datagen"
    assert opts["number-of-rows"] == "10000000"
    # datagen's default rows-per-second (10,000) is a rate limit: the budget must exceed the rows
    assert int(opts["rows-per-second"]) >= 10**12
    assert opts["fields.likes.min"] == "1" and int(opts["fields.likes.max"]) > 1
    assert opts["fields.event_id.kind"] == "random"
    assert opts["fields.rowtime.max-past"] == "0 ms"   # event time: the generation time


def test_event_time_with_the_counting_jobs_watermark_delay():
    source = engine_ceiling_sql(1, 10, LOG_UNIFORM)[0]
    assert "rowtime TIMESTAMP_LTZ(3)" in source
    assert "WATERMARK FOR rowtime AS rowtime - INTERVAL '5' SECOND" in source


def test_one_second_tumbling_window_per_room_with_the_tvf():
    insert = engine_ceiling_sql(1, 10, LOG_UNIFORM)[-1]
    assert ("TABLE(TUMBLE(TABLE ceiling_keyed_events, DESCRIPTOR(rowtime), "
            "INTERVAL '1' SECOND))") in insert
    assert "GROUP BY room_id, window_start, window_end" in insert
    assert "SUM(likes)" in insert and "COUNT(*)" in insert


@pytest.mark.parametrize("distribution, rooms, expression", [
    (LOG_UNIFORM, 100_000, "LEAST(CAST(FLOOR(POWER(100001, RAND())) AS BIGINT), 100000)"),
    (LOG_UNIFORM, 1000, "LEAST(CAST(FLOOR(POWER(1001, RAND())) AS BIGINT), 1000)"),
    (UNIFORM, 1000, "CAST(FLOOR(RAND() * 1000) AS BIGINT) + 1"),
    (HOT, 1000, "CASE WHEN RAND() < 0.5 THEN CAST(1 AS BIGINT) "
                "ELSE CAST(FLOOR(RAND() * 1000) AS BIGINT) + 1 END"),
])
def test_room_expressions(distribution, rooms, expression):
    assert room_expression(distribution, rooms) == expression
    assert f"{expression} AS room_id" in engine_ceiling_sql(5, rooms, distribution)[1]


@pytest.mark.parametrize("rooms", [1, 2, 7, 1000, 100_000, 10**9, 10**12])
def test_log_uniform_stays_within_1_to_r(rooms):
    # RAND() is java.util.Random.nextDouble(): 0 <= u <= 1 - 2**-53; POWER is Math.pow
    largest_u = 1 - 2**-53
    assert math.floor(math.pow(rooms + 1, 0.0)) == 1
    assert math.floor(math.pow(rooms + 1, largest_u)) == rooms
    # from R = 7 on, more than Math.pow's 1-ulp error bound below R + 1 (LEAST covers R < 7)
    if rooms >= 7:
        assert math.pow(rooms + 1, largest_u) <= rooms + 1 - math.ulp(rooms + 1)
    assert room_expression(LOG_UNIFORM, rooms).startswith("LEAST(")
    assert room_expression(LOG_UNIFORM, rooms).endswith(f", {rooms})")


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("rooms", [1, 7, 1000])
def test_room_probabilities_sum_to_one(distribution, rooms):
    total = sum(room_probability(distribution, rooms, k) for k in range(1, rooms + 1))
    assert total == pytest.approx(1.0)
    assert room_probability(distribution, rooms, 0) == room_probability(
        distribution, rooms, rooms + 1) == 0.0


def test_log_uniform_room_1_gets_ln2_over_ln_r_plus_1():
    assert room_probability(LOG_UNIFORM, 100_000, 1) == pytest.approx(0.0602, abs=1e-4)
    assert room_probability(LOG_UNIFORM, 1000, 1) == pytest.approx(math.log(2) / math.log(1001))
    # about 1 / (k ln R) further out
    assert room_probability(LOG_UNIFORM, 100_000, 1000) == pytest.approx(
        1 / (1000 * math.log(100_000)), rel=0.01)


def test_hot_sends_half_to_room_1():
    assert room_probability(HOT, 1000, 1) == pytest.approx(0.5 + 0.5 / 1000)
    assert room_probability(HOT, 1000, 2) == pytest.approx(0.5 / 1000)


@pytest.mark.parametrize("events, rooms, distribution", [
    (0, 10, LOG_UNIFORM), (10, 0, LOG_UNIFORM), (10, 10, "zipf")])
def test_engine_ceiling_refuses_bad_arguments(events, rooms, distribution):
    with pytest.raises(ValueError):
        engine_ceiling_sql(events, rooms, distribution)


# --- Kafka consume ceiling, in Flink -----------------------------------------------------------

def test_kafka_source_reads_from_earliest_to_the_latest_offsets_at_start():
    source, sink, insert = kafka_consume_sql("127.0.0.1:9092", ["ceildev_a", "ceildev_b"], "g1")
    assert with_options(source) == {
        "connector": "kafka",
        "topic": "ceildev_a;ceildev_b",
        "properties.bootstrap.servers": "127.0.0.1:9092",
        "properties.group.id": "g1",
        "scan.startup.mode": "earliest-offset",
        "scan.bounded.mode": "latest-offset",
        "format": "raw",
    }
    assert "`value` BYTES" in source
    assert with_options(sink) == {"connector": "blackhole"}
    assert insert == "INSERT INTO ceiling_consumed_sink SELECT `value` FROM ceiling_consumed"


def test_kafka_source_quotes_its_strings():
    source = kafka_consume_sql("host:9092", ["t"], "it's")[0]
    assert "'properties.group.id' = 'it''s'" in source


@pytest.mark.parametrize("topics", [[], ["a;b"], [""]])
def test_kafka_source_refuses_bad_topics(topics):
    with pytest.raises(ValueError):
        kafka_consume_sql("host:9092", topics, "g")


# --- Kafka consume ceiling, outside Flink -------------------------------------------------------

def test_consumer_perf_command_for_one_topic():
    cmd = consumer_perf_command("h:9092", ["ceildev_x"], 2_000_000, "g", 30_000, "java", "lib/*")
    assert cmd[:4] == ["java", "-Xmx512m", "-cp", "lib/*"]
    assert cmd[4] == "org.apache.kafka.tools.ConsumerPerformance"
    args = cmd[5:]
    assert args[args.index("--topic") + 1] == "ceildev_x"
    assert args[args.index("--num-records") + 1] == "2000000"
    assert args[args.index("--bootstrap-server") + 1] == "h:9092"
    assert args[args.index("--timeout") + 1] == "30000"


def test_consumer_perf_command_for_several_topics_is_a_quoted_regex():
    cmd = consumer_perf_command("h:9092", ["live.likes", "live.gifts"], 10, "g", 1, "java", "x")
    include = cmd[cmd.index("--include") + 1]
    assert include == r"\Qlive.likes\E|\Qlive.gifts\E"
    assert "--topic" not in cmd


PERF_OUTPUT = """\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-21 14:02:52:142, 2026-11-21 14:02:55:616, 114.4409, 32.9434, 2000000, 575705.2389, \
2785, 689, 166.0971, 2902757.6197
"""


def test_parse_consumer_perf():
    perf = parse_consumer_perf("WARN something first\n" + PERF_OUTPUT)
    assert perf.messages == 2_000_000
    assert perf.megabytes == pytest.approx(114.4409)
    assert perf.rebalance_ms == 2785
    assert perf.fetch_s == pytest.approx(0.689)
    assert perf.elapsed_s == pytest.approx(3.474)
    assert perf.messages_per_s == pytest.approx(2902757.6197)
    assert perf.mb_per_s == pytest.approx(166.0971)


def test_parse_consumer_perf_without_a_result_says_so():
    with pytest.raises(ValueError, match="no result"):
        parse_consumer_perf("Exception in thread main\n")


def test_raw_kafka_consume_returns_messages_and_fetch_seconds(monkeypatch):
    monkeypatch.setattr(ceilings, "consumer_perf",
                        lambda *a, **k: parse_consumer_perf(PERF_OUTPUT))
    assert ceilings.raw_kafka_consume("h:9092", ["t"], 2_000_000) == (2_000_000, 0.689)


# --- the job's settings and result line ------------------------------------------------------

def test_ceiling_settings():
    s = CeilingSettings.parse(["--kind", "engine", "--events", "200000", "--rooms", "1000",
                               "--distribution", "hot", "--parallelism", "2"])
    assert (s.kind, s.events, s.rooms, s.distribution, s.parallelism) == (
        "engine", 200_000, 1000, "hot", 2)
    assert s.state_backend == "" and s.checkpoint_interval_ms == 0   # flink-conf/'s
    assert CeilingSettings.parse(["--kind", "engine", "--state-backend", "hashmap"]
                                 ).state_backend == "hashmap"
    k = CeilingSettings.parse(["--kind", "kafka", "--topics", "ceildev_a, ceildev_b"])
    assert k.topics == ("ceildev_a", "ceildev_b") and k.generated_group
    assert not CeilingSettings.parse(["--kind", "kafka", "--topics", "t",
                                      "--group-id", "mine"]).generated_group


def test_the_job_stages_read_the_jobs_topics_with_the_jobs_settings():
    s = CeilingSettings.parse(["--kind", "truths", "--job-args",
                               "--likes-topic ceildev_l --gifts-topic ceildev_g "
                               "--bootstrap host:9093 --bundle-ms 200 --group-id theirs"])
    assert s.topics == ("ceildev_l", "ceildev_g") and s.bootstrap == "host:9093"
    assert s.generated_group and s.group_id != "theirs"
    job = job_settings(s.job_args, s.group_id)   # as the ceiling job builds the job's SQL
    assert (job.bundle_ms, job.group_id, job.likes_topic) == (200, s.group_id, "ceildev_l")


def test_a_stage_ceiling_is_the_jobs_sql_into_blackholes():
    decode = stage_statements("decode")
    assert [x.split()[0] for x in decode] == ["CREATE", "INSERT"]
    assert with_options(decode[0]) == {"connector": "blackhole"}
    assert decode[1].endswith("FROM decoded")
    for name in DECODED_TYPE.field_names():   # every field of the decode step's result
        assert f"`{name}`" in decode[0] and name in decode[1]
    truths = stage_statements("truths")
    ddl = [x for x in truths if x.startswith("CREATE")]
    inserts = [x for x in truths if x.startswith("INSERT")]
    assert len(ddl) == 2 and len(inserts) == 2
    assert all(with_options(x) == {"connector": "blackhole"} for x in ddl)
    # the truths as the job's sink reads them: an upsert table keyed as truth.schema()
    assert "PRIMARY KEY (room_id, wstart, kind, gift_id) NOT ENFORCED" in ddl[0]
    assert all(f"`{name}`" in ddl[0] for name in truth.FIELDS)
    assert inserts[0].endswith(TRUTH_SQL.strip())
    assert inserts[1].endswith("FROM decoded WHERE letter IS NOT NULL")  # the dead letters
    with pytest.raises(ValueError):
        stage_statements("engine")


@pytest.mark.parametrize("argv", [
    ["--kind", "truths", "--topics", "t"],
    ["--kind", "decode", "--job-args", "--window-ms 7"],
    ["--kind", "kafka"],
    ["--kind", "engine", "--events", "0"],
    ["--kind", "engine", "--distribution", "zipf"],
    ["--kind", "other"],
    ["--kind", "engine", "--state-backend", "memory"],
    ["--kind", "engine", "--checkpoint-interval-ms", "-1"],
])
def test_ceiling_settings_refuse(argv):
    with pytest.raises(SystemExit):
        CeilingSettings.parse(argv)


def test_parse_result_finds_the_line_in_flink_runs_output():
    out = "Job has been submitted with JobID abc\nCEILING_RESULT {\"events\": 5}\nbye\n"
    assert parse_result(out) == {"events": 5}
    with pytest.raises(ValueError):
        parse_result("nothing here")
