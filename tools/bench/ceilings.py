"""Scenario 2 of the benchmark, "ceilings, same run": what the engine and Kafka can do at most
on this machine, to read the counting job's throughput against.

- **Engine ceiling**: Flink SQL alone, with nothing to decode and nothing to write. A datagen
  source of ``events`` rows, rooms drawn from the benchmark's key distribution, a 1-second
  event-time tumbling window per room (SUM of likes, COUNT), into a blackhole. Same
  flink-conf/ (RocksDB, checkpoints) and the same parallelism as the counting job.
- **Kafka consume ceiling**: (a) the same topics read by a bounded Flink SQL Kafka source into
  a blackhole (the engine's rate of just reading them); (b) Kafka's own
  ``kafka-consumer-perf-test`` (``org.apache.kafka.tools.ConsumerPerformance`` from
  ``kafka-tools``, fetched by scripts/setup with the broker's jars), outside Flink.

The SQL builders are pure (unit-tested); ``tools/bench/ceiling_job.py`` runs them, and
``consumer_perf`` runs the Kafka tool.

Key distributions (``DISTRIBUTIONS``), over rooms 1..R:

- ``log-uniform`` ("Zipf with s=1"): ``room = floor((R + 1) ** u)``, ``u`` uniform in [0, 1),
  so ``P(room <= k) = ln(k + 1) / ln(R + 1)``: room 1 gets ``ln 2 / ln(R + 1)`` of the events
  (6.0 % at R = 100,000), about ``1 / (k ln R)`` for room k;
- ``uniform``: every room equally likely;
- ``hot``: half the events to room 1, the other half uniform over 1..R.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import subprocess
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)

LOG_UNIFORM, UNIFORM, HOT = "log-uniform", "uniform", "hot"
DISTRIBUTIONS = (LOG_UNIFORM, UNIFORM, HOT)
HOT_SHARE = 0.5          # share of the events that go to room 1 in the "hot" distribution
WINDOW_SECONDS = 1       # the ceiling's tumbling window
WATERMARK_DELAY_S = 5    # as the counting job's default --watermark-delay-ms
LIKES_MAX = 100          # a like event's count: uniform in 1..LIKES_MAX
USERS = 10_000_000       # user ids: uniform in 0..USERS
# Datagen throttles to ``rows-per-second`` (default 10,000: a rate limit, not a ceiling). Each
# subtask emits up to rows-per-second / parallelism rows per 1-second round, then sleeps out
# the round; with this budget the first round emits everything, so nothing is throttled.
UNTHROTTLED_ROWS_PER_SECOND = 10**15

# table names of the generated statements
EVENTS_TABLE, KEYED_VIEW, WINDOW_SINK = "ceiling_events", "ceiling_keyed_events", "ceiling_sink"
CONSUMED_TABLE, CONSUMED_SINK = "ceiling_consumed", "ceiling_consumed_sink"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def room_expression(distribution: str, rooms: int) -> str:
    """A SQL expression drawing a room id in 1..``rooms`` from ``distribution``, once per row.

    Every ``RAND()`` call is its own generator, evaluated per row. ``RAND()`` is
    ``java.util.Random.nextDouble()``, at most ``1 - 2**-53``, where ``(R + 1) ** u`` is below
    ``R + 1`` by ``ln(R + 1) / 2`` ulps or more: more than ``Math.pow``'s error bound (1 ulp)
    from R = 7 on. ``LEAST(.., R)`` makes 1..R hold for the smaller R too (it changes nothing
    else: only draws in the last few doubles below 1 could get there).
    """
    if rooms < 1:
        raise ValueError(f"rooms must be >= 1, not {rooms}")
    if distribution == LOG_UNIFORM:
        return f"LEAST(CAST(FLOOR(POWER({rooms + 1}, RAND())) AS BIGINT), {rooms})"
    uniform = f"CAST(FLOOR(RAND() * {rooms}) AS BIGINT) + 1"
    if distribution == UNIFORM:
        return uniform
    if distribution == HOT:
        return f"CASE WHEN RAND() < {HOT_SHARE} THEN CAST(1 AS BIGINT) ELSE {uniform} END"
    raise ValueError(f"unknown distribution {distribution!r}: one of {', '.join(DISTRIBUTIONS)}")


def room_probability(distribution: str, rooms: int, room: int) -> float:
    """P(room) under ``distribution`` (what ``room_expression`` draws), for checks."""
    if not 1 <= room <= rooms:
        return 0.0
    if distribution == LOG_UNIFORM:
        return math.log((room + 1) / room) / math.log(rooms + 1)
    if distribution == UNIFORM:
        return 1 / rooms
    if distribution == HOT:
        return (1 - HOT_SHARE) / rooms + (HOT_SHARE if room == 1 else 0.0)
    raise ValueError(f"unknown distribution {distribution!r}")


def engine_ceiling_sql(events: int, rooms: int, distribution: str) -> list[str]:
    """Statements of the engine ceiling: datagen -> rooms -> 1 s tumbling window -> blackhole.

    All but the last are DDL (execute them first); the last is the INSERT the job runs. The
    source is bounded by ``number-of-rows`` and unthrottled. Event time is each row's
    generation time (datagen's ``TIMESTAMP_LTZ`` is "now" with ``max-past`` 0), with the
    counting job's 5 s watermark delay; at the end of the input every window fires.
    """
    if events < 1:
        raise ValueError(f"events must be >= 1, not {events}")
    room = room_expression(distribution, rooms)
    return [
        f"""CREATE TEMPORARY TABLE {EVENTS_TABLE} (
  event_id BIGINT,
  user_id BIGINT,
  likes INT,
  rowtime TIMESTAMP_LTZ(3),
  WATERMARK FOR rowtime AS rowtime - INTERVAL '{WATERMARK_DELAY_S}' SECOND
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '{events}',
  'rows-per-second' = '{UNTHROTTLED_ROWS_PER_SECOND}',
  'fields.event_id.kind' = 'random',
  'fields.event_id.min' = '1',
  'fields.event_id.max' = '{2**63 - 1}',
  'fields.user_id.kind' = 'random',
  'fields.user_id.min' = '0',
  'fields.user_id.max' = '{USERS}',
  'fields.likes.kind' = 'random',
  'fields.likes.min' = '1',
  'fields.likes.max' = '{LIKES_MAX}',
  'fields.rowtime.max-past' = '0 ms'
)""",
        f"""CREATE TEMPORARY VIEW {KEYED_VIEW} AS
SELECT event_id, user_id, {room} AS room_id, likes, rowtime
FROM {EVENTS_TABLE}""",
        f"""CREATE TEMPORARY TABLE {WINDOW_SINK} (
  room_id BIGINT,
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  likes BIGINT,
  events BIGINT
) WITH (
  'connector' = 'blackhole'
)""",
        f"INSERT INTO {WINDOW_SINK}\n{window_select_sql()}",
    ]


def window_select_sql() -> str:
    """The ceiling's query over the keyed events: per room and 1 s tumbling window, the sum of
    likes and the number of events."""
    return f"""SELECT room_id, window_start, window_end, CAST(SUM(likes) AS BIGINT) AS likes,
       COUNT(*) AS events
FROM TABLE(TUMBLE(TABLE {KEYED_VIEW}, DESCRIPTOR(rowtime), INTERVAL '{WINDOW_SECONDS}' SECOND))
GROUP BY room_id, window_start, window_end"""


def kafka_consume_sql(bootstrap: str, topics: list[str], group_id: str) -> list[str]:
    """Statements of the engine's Kafka read rate: the topics from their earliest offsets to
    the latest offsets at start (so the job ends), raw value bytes, into a blackhole.

    Same connector as the counting job (``jobs/counters/graph.py``), without the key,
    metadata columns and everything after the source.
    """
    if not topics:
        raise ValueError("no topics to consume")
    bad = [t for t in topics if not t or ";" in t]
    if bad:
        raise ValueError(f"invalid topic names: {bad}")
    return [
        f"""CREATE TEMPORARY TABLE {CONSUMED_TABLE} (
  `value` BYTES
) WITH (
  'connector' = 'kafka',
  'topic' = {_sql_str(';'.join(topics))},
  'properties.bootstrap.servers' = {_sql_str(bootstrap)},
  'properties.group.id' = {_sql_str(group_id)},
  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset',
  'format' = 'raw'
)""",
        f"""CREATE TEMPORARY TABLE {CONSUMED_SINK} (
  `value` BYTES
) WITH (
  'connector' = 'blackhole'
)""",
        f"INSERT INTO {CONSUMED_SINK} SELECT `value` FROM {CONSUMED_TABLE}",
    ]


# --- running the ceiling job ---------------------------------------------------------------------

# the line the ceiling job prints its result on (tools/bench/ceiling_job.py)
RESULT_MARK = "CEILING_RESULT "


def parse_result(output: str) -> dict:
    """The result a ceiling job printed, from its (or ``flink run``'s) output."""
    for ln in reversed(output.splitlines()):
        if ln.startswith(RESULT_MARK):
            return json.loads(ln[len(RESULT_MARK):])
    raise ValueError(f"no {RESULT_MARK.strip()} line in the output:\n{output[-4000:]}")


def run_ceiling_job(job_args: list[str], *, standalone: bool = False, parallelism: int = 1,
                    timeout_s: float = 3600) -> dict:
    """Run ``tools/bench/ceiling_job.py`` with ``job_args`` (``--kind engine ...``) and return
    its result (``CeilingResult`` as a dict).

    Embedded: a fresh interpreter with its own mini-cluster (``python -m``). Standalone:
    ``flink run -py`` on the local cluster (``scripts/submit``), which must have free slots.
    Raises RuntimeError with the output if the job fails.
    """
    import sys

    from local_stack.paths import REPO_ROOT
    args = [*job_args, "--parallelism", str(parallelism)]
    if standalone:
        from local_stack.flink import submit

        out = submit(REPO_ROOT / "tools" / "bench" / "ceiling_job.py", args,
                     parallelism=parallelism, timeout=timeout_s).stdout
    else:
        res = subprocess.run([sys.executable, "-m", "tools.bench.ceiling_job", *args],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
        if res.returncode != 0:
            raise RuntimeError(f"ceiling job failed ({res.returncode}):\n"
                               f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
        out = res.stdout
    return parse_result(out)


# --- Kafka's own consumer benchmark ------------------------------------------------------------

CONSUMER_PERF_CLASS = "org.apache.kafka.tools.ConsumerPerformance"


@dataclass(frozen=True)
class ConsumerPerf:
    """One ``kafka-consumer-perf-test`` run, as the tool reports it.

    ``elapsed_s`` runs from before the consumer subscribes to after the last record;
    ``fetch_s`` is that minus the group join (``rebalance_ms``): the consume rate proper.
    """

    messages: int
    megabytes: float        # keys + values, MiB (the tool's "MB")
    elapsed_s: float
    rebalance_ms: int
    fetch_s: float
    messages_per_s: float   # over fetch_s
    mb_per_s: float         # over fetch_s


def consumer_perf_command(bootstrap: str, topics: list[str], messages: int, group: str,
                          timeout_ms: int, java: str, classpath: str) -> list[str]:
    """The tool's command line: ``--topic`` for one topic, an ``--include`` regex for several."""
    if not topics:
        raise ValueError("no topics to consume")
    if len(topics) == 1:
        selection = ["--topic", topics[0]]
    else:
        selection = ["--include", "|".join(rf"\Q{t}\E" for t in topics)]
    return [java, "-Xmx512m", "-cp", classpath, CONSUMER_PERF_CLASS,
            "--bootstrap-server", bootstrap, *selection, "--num-records", str(messages),
            "--group", group, "--timeout", str(timeout_ms)]


def parse_consumer_perf(stdout: str) -> ConsumerPerf:
    """The tool's final CSV line (header ``start.time, end.time, data.consumed.in.MB, MB.sec,
    data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec,
    fetch.nMsg.sec``)."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    header_at = next((i for i, ln in enumerate(lines) if ln.startswith("start.time")), None)
    if header_at is None or header_at + 1 >= len(lines):
        raise ValueError(f"no result in the output of kafka-consumer-perf-test:\n{stdout}")
    rows = list(csv.reader(io.StringIO("\n".join(lines[header_at:header_at + 2])),
                           skipinitialspace=True))
    row = dict(zip(rows[0], rows[1], strict=True))
    fetch_ms = int(row["fetch.time.ms"])
    messages = int(row["data.consumed.in.nMsg"])
    megabytes = float(row["data.consumed.in.MB"])
    elapsed_ms = fetch_ms + int(row["rebalance.time.ms"])
    return ConsumerPerf(messages=messages, megabytes=megabytes, elapsed_s=elapsed_ms / 1000,
                        rebalance_ms=int(row["rebalance.time.ms"]), fetch_s=fetch_ms / 1000,
                        messages_per_s=float(row["fetch.nMsg.sec"]),
                        mb_per_s=float(row["fetch.MB.sec"]))


def consumer_perf(bootstrap: str, topics: list[str], expected_messages: int,
                  timeout_ms: int = 30_000) -> ConsumerPerf:
    """Run ``kafka-consumer-perf-test`` over ``topics`` until ``expected_messages`` are read.

    Runs with the broker's jars (``.stack/lib/kafka``, which hold ``kafka-tools``) on the stack's
    Java 17, in a consumer group of its own that is deleted afterwards. Raises RuntimeError if
    the tool fails or reads fewer messages than expected (it stops after ``timeout_ms``
    without records).
    """
    from local_stack import java
    from local_stack.paths import StackPaths

    lib = StackPaths.from_env().lib("kafka")
    if not any(lib.glob("kafka-tools-*.jar")):
        raise RuntimeError(f"kafka-tools is not in {lib}: run scripts/setup")
    group = f"ceiling-consumer-perf-{uuid.uuid4().hex[:8]}"
    cmd = consumer_perf_command(bootstrap, topics, expected_messages, group, timeout_ms,
                                java.java(), java.classpath(lib))
    log.info("running %s", " ".join(cmd))
    try:
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout_ms / 1000 + 600)
    finally:
        delete_group(bootstrap, group)
    if res.returncode != 0:
        raise RuntimeError(f"kafka-consumer-perf-test failed ({res.returncode}):\n"
                           f"{res.stdout}\n{res.stderr}")
    perf = parse_consumer_perf(res.stdout)
    if perf.messages < expected_messages:
        raise RuntimeError(f"kafka-consumer-perf-test read {perf.messages} of "
                           f"{expected_messages} messages:\n{res.stdout}")
    return perf


def raw_kafka_consume(bootstrap: str, topics: list[str],
                      expected_messages: int) -> tuple[int, float]:
    """The raw consume rate outside Flink: (messages read, seconds spent fetching them)."""
    perf = consumer_perf(bootstrap, topics, expected_messages)
    log.info("kafka-consumer-perf-test: %d messages, %.1f MB in %.2f s (+%d ms group join): "
             "%.0f msg/s, %.1f MB/s", perf.messages, perf.megabytes, perf.fetch_s,
             perf.rebalance_ms, perf.messages_per_s, perf.mb_per_s)
    return perf.messages, perf.fetch_s


def delete_group(bootstrap: str, group: str) -> None:
    """Delete a consumer group the benchmark made (best effort: a failure is logged)."""
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            admin.delete_groups([group])
        finally:
            admin.close()
    except Exception as exc:  # noqa: BLE001 - leftover group offsets expire with offsets.retention.minutes
        log.warning("could not delete consumer group %s: %s", group, exc)


def topic_messages(bootstrap: str, topics: list[str]) -> int:
    """Messages the topics hold now (end minus beginning offsets, all partitions)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in sorted(consumer.partitions_for_topic(t) or ())]
        missing = [t for t in topics if not any(tp.topic == t for tp in parts)]
        if missing:
            raise RuntimeError(f"topics not found: {missing}")
        end, begin = consumer.end_offsets(parts), consumer.beginning_offsets(parts)
        return sum(end[tp] - begin[tp] for tp in parts)
    finally:
        consumer.close()
