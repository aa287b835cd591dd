"""A ceiling of the benchmark (``tools/bench/ceilings.py``) as a bounded Flink job:
``python -m tools.bench.ceiling_job --kind engine|kafka|decode|truths ...`` (embedded
mini-cluster) or ``scripts/submit -p N tools/bench/ceiling_job.py --kind ...`` (``flink run
-py``, a cluster).

``decode`` and ``truths`` are the counting job's own stages on a backlog (its settings from
``--job-args``, its SQL from ``jobs/counters/graph.py``, its Python bundles), its Kafka
source bounded at the latest offsets of the start: ``decode`` is the source and the decode
step into a blackhole; ``truths`` is the whole job up to its sink (decode, dead letters,
dedup, aggregation), the truths and the dead letters into blackholes. What the job reaches
with ``truths`` is what it could reach with a sink that costs nothing.

Runs the statements with a StatementSet, waits until the job has read all of its input, and
prints one line ``CEILING_RESULT {json}`` (also written to ``--result-file`` if given):

- ``tasks_s``: from the first task running to the job's end (see ``TaskClock``): the time
  the engine spent on the input, without JVM, client, scheduling or deployment;
- ``job_s``: Flink's net runtime of the job (``JobExecutionResult``), from its submission to
  the JobManager: ``tasks_s`` plus scheduling and deployment;
- ``wall_s``: this process, from before the JVM starts to the end;
- ``events_per_s``: ``events / tasks_s`` (``events / job_s`` if the REST API did not answer).

``events`` is the number of rows the engine ceiling generates, or for ``--kind kafka`` the
messages the topics hold when the job starts (it reads up to the latest offsets at start).
Checkpoints are flink-conf/'s, as for the counting job, except that the end of the input does
not wait for a last checkpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import sys
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from jobs.runtime import execution_environment, is_submitted, job_jars, kafka_connector_jar
from local_stack.addresses import EMBEDDED_REST_PORTS, FLINK_REST_URL, HOST, KAFKA_BOOTSTRAP
from tools.bench.ceilings import (
    DISTRIBUTIONS,
    LOG_UNIFORM,
    RESULT_MARK,
    delete_group,
    engine_ceiling_sql,
    kafka_consume_sql,
    topic_messages,
)

log = logging.getLogger(__name__)

ENGINE, KAFKA, DECODE, TRUTHS = "engine", "kafka", "decode", "truths"
STAGES = (DECODE, TRUTHS)  # the counting job's own stages, on its topics
# the job's decoder, or one of the Python decoders measured beside it (tools/bench/
# python_decode.py): vectorized in its worker process, or row at a time in thread mode
JVM, PYTHON, PYTHON_THREAD = "jvm", "python", "python-thread"
DECODERS = (JVM, PYTHON, PYTHON_THREAD)
# the dedup's key as the job has it (a 128-bit hash: two BIGINTs), or, to measure what the
# choice gives, a 32-character string as an event id would be (uuid4 hex), or no dedup at all
# (every event counted as new: the dedup's cost, its shuffle included)
HASH_KEY, STRING_KEY, NO_DEDUP = "hash", "string", "none"
DEDUP_KEYS = (HASH_KEY, STRING_KEY, NO_DEDUP)


@dataclass(frozen=True)
class CeilingSettings:
    kind: str
    events: int
    rooms: int
    distribution: str
    bootstrap: str
    topics: tuple[str, ...]
    group_id: str
    parallelism: int            # 0: the configured default
    checkpoint_interval_ms: int  # 0: flink-conf/'s, as the counting job
    state_backend: str           # "": flink-conf/'s (rocksdb), as the counting job
    rest_url: str
    result_file: str
    generated_group: bool = False  # group_id was made up here (deleted after the run)
    job_args: tuple[str, ...] = ()  # decode, truths: the counting job's flags
    decoder: str = JVM              # decode, truths: the job's (jvm) or a Python decoder
    dedup_key: str = HASH_KEY       # truths: the job's dedup, or a variant measured beside it

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> CeilingSettings:
        p = argparse.ArgumentParser(prog="tools.bench.ceiling_job",
                                    description=__doc__.split("\n\n")[0])
        p.add_argument("--kind", choices=(ENGINE, KAFKA, *STAGES), required=True)
        p.add_argument("--events", type=int, default=10_000_000,
                       help="engine: rows to generate (default 10,000,000)")
        p.add_argument("--rooms", type=int, default=100_000, help="engine: R (default 100,000)")
        p.add_argument("--distribution", choices=DISTRIBUTIONS, default=LOG_UNIFORM)
        p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", KAFKA_BOOTSTRAP))
        p.add_argument("--topics", default="", help="kafka: comma-separated topics to read")
        p.add_argument("--group-id", default="", help="kafka: consumer group (default: a new one)")
        p.add_argument("--parallelism", type=int, default=0)
        p.add_argument("--checkpoint-interval-ms", type=int, default=0,
                       help="0: flink-conf/'s interval, as the counting job (default)")
        p.add_argument("--state-backend", choices=("", "rocksdb", "hashmap"), default="",
                       help="default: flink-conf/'s (rocksdb), as the counting job")
        p.add_argument("--rest-url", default=FLINK_REST_URL,
                       help="submitted: the cluster's REST API, for task timings")
        p.add_argument("--result-file", default="")
        p.add_argument("--job-args", default="",
                       help="decode, truths: the counting job's flags, as one string (its "
                            "topics, window, bundles; its --group-id is replaced by this "
                            "job's)")
        p.add_argument("--decoder", choices=DECODERS, default=JVM,
                       help="decode, truths: the job's decoder (jvm, default), or Python: "
                            "vectorized (python) or row at a time in thread mode "
                            "(python-thread)")
        p.add_argument("--dedup-key", choices=DEDUP_KEYS, default=HASH_KEY,
                       help="truths: the dedup's key as the job has it (hash, default), a "
                            "32-character string, or none (no dedup)")
        a = p.parse_args(argv)
        topics = tuple(t.strip() for t in a.topics.split(",") if t.strip())
        if a.kind == KAFKA and not topics:
            p.error("--kind kafka needs --topics")
        job_args = tuple(shlex.split(a.job_args))
        if a.kind in STAGES:
            if topics:
                p.error(f"--kind {a.kind} reads the job's topics (--job-args), not --topics")
            job = job_settings(job_args, "g")  # a usage error here, not in the job
            topics = (job.likes_topic, job.gifts_topic)
            a.bootstrap = job.bootstrap
        if a.events < 1 or a.rooms < 1:
            p.error("--events and --rooms must be >= 1")
        if a.checkpoint_interval_ms < 0:
            p.error("--checkpoint-interval-ms must be >= 0")
        group = a.group_id or f"ceiling-{uuid.uuid4().hex[:8]}"
        return cls(a.kind, a.events, a.rooms, a.distribution, a.bootstrap, topics, group,
                   a.parallelism, a.checkpoint_interval_ms, a.state_backend, a.rest_url,
                   a.result_file,
                   generated_group=not a.group_id, job_args=job_args, decoder=a.decoder,
                   dedup_key=a.dedup_key)


@dataclass(frozen=True)
class CeilingResult:
    kind: str
    mode: str               # embedded | submitted
    parallelism: int
    events: int
    job_id: str
    job_s: float            # Flink's net runtime: job submitted to the JobManager -> job ended
    tasks_s: float | None   # first task RUNNING -> job ended (None: no REST answer in time)
    wall_s: float           # this process: before the JVM starts -> job ended
    events_per_s: float     # events / tasks_s (events / job_s when tasks_s is None)
    state_backend: str = ""  # "": flink-conf/'s
    distribution: str | None = None
    rooms: int | None = None
    topics: tuple[str, ...] | None = None


def job_settings(job_args: tuple[str, ...] | list[str], group_id: str):
    """The counting job's settings from its flags, reading as consumer group ``group_id``."""
    from jobs.counters.settings import Settings

    return Settings.parse([*job_args, "--group-id", group_id])


# the stage ceilings' blackholes: the truths (an upsert table, keyed as the job's sink reads
# them) and the decoded records or dead letters
TRUTHS_SINK, DECODED_SINK = "ceiling_truths", "ceiling_decoded"


def sql_type(t) -> str:
    """A PyFlink DataType as a column type of Flink SQL DDL (a bare ``VARCHAR`` there means
    ``VARCHAR(1)``: PyFlink's STRING is written ``STRING``)."""
    name = "STRING" if getattr(t, "length", None) == 2**31 - 1 else str(t)
    return name if t._nullable else f"{name} NOT NULL"


def stage_statements(kind: str) -> list[str]:
    """DDL of a stage ceiling's blackholes, then its INSERTs, over the views the job's
    pipeline creates (``decoded``, and for ``truths`` the views TRUTH_SQL reads). The columns
    are typed as the job types them (the decode step's result, the truth query's schema)."""
    from pyflink.table import DataTypes

    from jobs.counters import truth
    from jobs.counters.aggregate.sql import TRUTH_SQL
    from tools.bench.python_decode import DECODED_TYPE  # as the job's decoder types them

    if kind == DECODE:
        names = DECODED_TYPE.field_names()
        columns = ",\n  ".join(f"`{n}` {sql_type(t)}" for n, t in
                               zip(names, DECODED_TYPE.field_types(), strict=True))
        return [f"CREATE TEMPORARY TABLE {DECODED_SINK} (\n  {columns}\n) "
                "WITH ('connector' = 'blackhole')",
                f"INSERT INTO {DECODED_SINK} SELECT {', '.join(names)} FROM decoded"]
    if kind == TRUTHS:
        columns = ",\n  ".join(f"`{n}` {sql_type(truth.KEY_TYPES.get(n, DataTypes.BIGINT()))}"
                               for n in truth.FIELDS)
        return [f"CREATE TEMPORARY TABLE {TRUTHS_SINK} (\n  {columns},\n  PRIMARY KEY "
                f"({', '.join(truth.KEY_TYPES)}) NOT ENFORCED\n) "
                "WITH ('connector' = 'blackhole')",
                f"CREATE TEMPORARY TABLE {DECODED_SINK} (letter STRING) "
                "WITH ('connector' = 'blackhole')",
                f"INSERT INTO {TRUTHS_SINK}\n{TRUTH_SQL.strip()}",
                f"INSERT INTO {DECODED_SINK} SELECT letter FROM decoded "
                "WHERE letter IS NOT NULL"]
    raise ValueError(f"not a stage of the job: {kind!r}")


def statements(s: CeilingSettings) -> list[str]:
    if s.kind == ENGINE:
        return engine_ceiling_sql(s.events, s.rooms, s.distribution)
    if s.kind in STAGES:
        return stage_statements(s.kind)
    return kafka_consume_sql(s.bootstrap, list(s.topics), s.group_id)


def job_stages(t_env, job, decoder: str = JVM, dedup_key: str = HASH_KEY) -> None:
    """The counting job's views up to its sink, over a bounded source (``graph.build``
    without the sinks): ``decoded``, ``events`` and the views TRUTH_SQL reads."""
    from jobs.counters.aggregate.sql import truth_query_views
    from jobs.counters.decode.sql import EVENTS_SQL, decoded_table, register_decoder
    from jobs.counters.engine import configure_tables
    from tools.bench.python_decode import ROW_AT_A_TIME, VECTORIZED, register

    configure_tables(t_env, job)
    decoded_table(t_env, job, bounded=True, decoder={
        JVM: register_decoder, PYTHON: register(VECTORIZED),
        PYTHON_THREAD: register(ROW_AT_A_TIME)}[decoder])
    t_env.create_temporary_view("events", t_env.sql_query(EVENTS_SQL))
    if dedup_key == HASH_KEY:
        truth_query_views(t_env, job)
        return
    from jobs.counters.aggregate.sql import GROUPING_ROWS_VIEW_SQL, marked_view_sql

    job_key = "PARTITION BY id_hi, id_lo"
    marked = marked_view_sql(job)
    assert job_key in marked, "the job's dedup key changed: update the variants"
    if dedup_key == STRING_KEY:
        marked = marked.replace(job_key, "PARTITION BY CONCAT(HEX(id_hi), HEX(id_lo))")
    else:
        marked = re.sub(r"CASE WHEN COUNT\(\*\) OVER .*? END AS first_seen", "1 AS first_seen",
                        marked, flags=re.S)
    t_env.execute_sql(marked)
    t_env.execute_sql(GROUPING_ROWS_VIEW_SQL)


def run(s: CeilingSettings) -> CeilingResult:
    started = time.monotonic()
    jars = ([] if s.kind == ENGINE else job_jars() if s.kind in STAGES
            else [kafka_connector_jar()])
    env = execution_environment(jars, s.parallelism or None)
    if s.checkpoint_interval_ms:
        env.enable_checkpointing(s.checkpoint_interval_ms)
    from pyflink.table import StreamTableEnvironment

    if s.kind in STAGES:
        from jobs.counters.engine import engine_options, python_bundles

        job = job_settings(s.job_args, s.group_id)
        env.configure(python_bundles(job.bundle_ms))  # the job's bundles
        env.configure(engine_options())  # and its engine settings
        if s.decoder == PYTHON_THREAD:
            from pyflink.common import Configuration

            thread = Configuration()
            thread.set_string("python.execution-mode", "thread")
            env.configure(thread)
    t_env = StreamTableEnvironment.create(env)
    config = t_env.get_config()
    config.set("pipeline.name", f"live-counters-ceiling-{s.kind}")
    # as the counting job: pre-aggregate per subtask before the shuffle by room (hot rooms)
    config.set("table.optimizer.agg-phase-strategy", "TWO_PHASE")
    # Checkpoints run as in the counting job, but a finished input does not wait for the next
    # one (by default a bounded job's tasks wait for a final checkpoint: up to an interval
    # plus its duration added to the measured time).
    config.set("execution.checkpointing.checkpoints-after-tasks-finish", "false")
    if s.state_backend:
        config.set("state.backend.type", s.state_backend)
    events = s.events if s.kind == ENGINE else topic_messages(s.bootstrap, list(s.topics))

    if s.kind in STAGES:
        job_stages(t_env, job, s.decoder, s.dedup_key)
    stmts = statements(s)
    inserts = [x for x in stmts if x.startswith("INSERT")]
    for stmt in stmts:
        if stmt not in inserts:
            t_env.execute_sql(stmt)
    statement_set = t_env.create_statement_set()
    for insert in inserts:
        statement_set.add_insert_sql(insert)
    job_client = statement_set.execute().get_job_client()
    job_id = str(job_client.get_job_id())
    log.info("ceiling job %s running (%s, %d events)", job_id, s.kind, events)
    clock = TaskClock(job_id, [s.rest_url] if is_submitted() else EMBEDDED_REST_URLS)
    try:
        done = job_client.get_job_execution_result()
        while not done.done():
            clock.poll()
            time.sleep(0.2)
        result = done.result()
    finally:
        if s.kind != ENGINE and s.generated_group:
            delete_group(s.bootstrap, s.group_id)  # offsets Flink committed on checkpoints
    clock.poll()  # a cluster outlives the job; an embedded mini-cluster is gone by now
    net_ms = result.get_net_runtime()
    tasks_s = clock.tasks_s(net_ms)
    return CeilingResult(
        kind=s.kind, mode="submitted" if is_submitted() else "embedded",
        parallelism=env.get_parallelism(), events=events, job_id=job_id, job_s=net_ms / 1000,
        tasks_s=tasks_s, wall_s=time.monotonic() - started,
        events_per_s=events / (tasks_s or net_ms / 1000) if net_ms > 0 else 0.0,
        state_backend=s.state_backend,
        distribution=s.distribution if s.kind == ENGINE else None,
        rooms=s.rooms if s.kind == ENGINE else None,
        topics=s.topics if s.kind != ENGINE else None)


# an embedded mini-cluster's REST API takes the first free port of rest.bind-port, which
# jobs/runtime.py sets to this range (the standalone cluster has its own)
EMBEDDED_REST_URLS = [f"http://{HOST}:{port}" for port in EMBEDDED_REST_PORTS]


class TaskClock:
    """When the job's first task started running, read from Flink's REST API while it runs.

    Flink's net runtime counts from the job's submission to the JobManager: scheduling, task
    deployment and operator start-up (a few seconds on this machine) are in it. The first
    subtask's RUNNING timestamp is where processing can begin; with the net runtime it gives
    the job's end on the JobManager's clock (``start-time`` + net runtime), so
    ``tasks_s = start-time + net runtime - first RUNNING``.
    """

    def __init__(self, job_id: str, rest_urls: list[str]) -> None:
        self.job_id = job_id
        self.candidates = rest_urls
        self.job_start_ms: int | None = None
        self.first_running_ms: int | None = None

    def poll(self) -> None:
        if self.first_running_ms is not None:
            return
        for url in self.candidates:
            job = _get_json(f"{url}/jobs/{self.job_id}")
            if job is None:
                continue
            self.candidates = [url]  # found: ask only this one from now on
            self.job_start_ms = job["start-time"]
            running = [st["timestamps"].get("RUNNING", 0)
                       for v in job["vertices"]
                       for st in (_get_json(f"{url}/jobs/{self.job_id}/vertices/{v['id']}"
                                            "/subtasktimes") or {}).get("subtasks", [])]
            started = [t for t in running if t > 0]
            if started:  # a subtask that is not running yet can only start later
                self.first_running_ms = min(started)
            return

    def tasks_s(self, net_runtime_ms: int) -> float | None:
        if self.first_running_ms is None or self.job_start_ms is None:
            log.warning("no task start times from the REST API: timing is the net runtime")
            return None
        return (self.job_start_ms + net_runtime_ms - self.first_running_ms) / 1000


def _get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return json.load(resp)
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    settings = CeilingSettings.parse(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = run(settings)
    line = json.dumps(asdict(result))
    print(RESULT_MARK + line, flush=True)
    if settings.result_file:
        Path(settings.result_file).write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
