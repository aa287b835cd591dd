"""The execution environment a job runs in, embedded or submitted with ``flink run -py``.

Embedded (``python -m jobs.<job>.main``): PyFlink starts a local mini-cluster in its own JVM.
It reads ``flink-conf/`` (the same configuration the standalone cluster uses), writes its
checkpoints under the stack's cache directory and runs Python workers with this interpreter.

Submitted (``flink run -py jobs/<job>/main.py``): the cluster's configuration applies; this
module then only adds the connector jars, which the client ships with the job.

Where a run finds its files is defined here, in the product: ``flink-conf/`` beside the
packages, and the cache directory ``$LIVE_COUNTERS_STACK_DIR`` (default ``.stack/`` in the
checkout) for the connector jars ``scripts/setup`` fetches and an embedded run's checkpoints.
The local stack (``local_stack/paths.py``) keeps its services' files in the same directory.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import pyflink
import yaml
from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment

REPO_ROOT = Path(__file__).resolve().parent.parent
FLINK_CONF_DIR = REPO_ROOT / "flink-conf"
STACK_DIR_ENV = "LIVE_COUNTERS_STACK_DIR"
# the REST ports an embedded mini-cluster may take: never the standalone cluster's (8081)
EMBEDDED_REST_PORTS = "8082-8199"


def stack_dir() -> Path:
    """The cache directory: connector jars, an embedded run's logs, checkpoints, savepoints."""
    return Path(os.environ.get(STACK_DIR_ENV, REPO_ROOT / ".stack")).resolve()


def connector_jars(root: Path | None = None) -> list[Path]:
    """Jars a PyFlink job ships with itself (Kafka connector), fetched by scripts/setup into
    the cache directory ``root`` (default: ``stack_dir()``)."""
    return sorted(((root or stack_dir()) / "lib" / "flink-connectors").glob("*.jar"))


def is_submitted() -> bool:
    """True when this process is the Python driver of ``flink run`` (the client's gateway)."""
    return "PYFLINK_GATEWAY_PORT" in os.environ


def execution_environment(jars: Iterable[Path], parallelism: int | None = None,
                          restore_from: str | None = None):
    """A StreamExecutionEnvironment with the connector ``jars`` added; an embedded run
    restores ``restore_from`` (a savepoint or retained checkpoint; a submitted job restores
    what ``flink run -s`` names).

    Must be called before anything else touches PyFlink: the embedded gateway JVM reads
    FLINK_CONF_DIR when it starts.
    """

    if not is_submitted():
        # before the first PyFlink object: creating one (a Configuration too) starts the
        # embedded gateway JVM, which reads these when it starts
        os.environ.setdefault("FLINK_CONF_DIR", str(FLINK_CONF_DIR))
        os.environ.setdefault("FLINK_LOG_DIR", str(stack_dir() / "logs" / "flink-embedded"))
        Path(os.environ["FLINK_LOG_DIR"]).mkdir(parents=True, exist_ok=True)
        _metric_reporters_on_classpath()
    config = Configuration()
    if not is_submitted():
        flink_data = stack_dir() / "data" / "flink"
        # the local environment does not read config.yaml by itself: apply flink-conf/ here
        for key, value in flink_conf().items():
            config.set_string(key, value)
        # a mini-cluster must not take the standalone cluster's REST port (8081)
        config.set_string("rest.bind-port", EMBEDDED_REST_PORTS)
        checkpoints, savepoints = flink_data / "checkpoints", flink_data / "savepoints"
        config.set_string("execution.checkpointing.dir", f"file://{checkpoints}")
        config.set_string("execution.checkpointing.savepoint-dir", f"file://{savepoints}")
        config.set_string("python.executable", sys.executable)
        if restore_from:
            config.set_string("execution.state-recovery.path", restore_from)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    missing = [str(j) for j in jars if not Path(j).is_file()]
    if missing:
        raise FileNotFoundError(f"connector jars missing: {missing}; run scripts/setup")
    env.add_jars(*[Path(j).resolve().as_uri() for j in jars])
    if parallelism is not None:
        env.set_parallelism(parallelism)
    return env


def _metric_reporters_on_classpath() -> None:
    """Put the Prometheus reporter (flink-conf: metrics.reporter.prom) on the embedded JVM's
    classpath. A cluster loads it from Flink's plugins/ directory, but the local mini-cluster
    does not look there ("The reporter factory ... could not be found"). PyFlink's local
    gateway appends ``HADOOP_CLASSPATH`` to its classpath, the one hook it has for this."""

    jars = glob.glob(os.path.join(os.path.dirname(pyflink.__file__), "plugins",
                                  "metrics-prometheus", "flink-metrics-prometheus-*.jar"))
    extra = [p for p in os.environ.get("HADOOP_CLASSPATH", "").split(os.pathsep) if p]
    os.environ["HADOOP_CLASSPATH"] = os.pathsep.join(extra + [j for j in jars if j not in extra])


def flink_conf(conf_dir: Path = FLINK_CONF_DIR) -> dict[str, str]:
    """flink-conf/config.yaml as flat ``key: value`` strings (nested YAML keys joined by dots)."""

    def flat(d: dict, prefix: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = str(v).lower() if isinstance(v, bool) else str(v)
        return out

    return flat(yaml.safe_load((conf_dir / "config.yaml").read_text()) or {})


JOB_JAR = "live-counters-jvm.jar"


def job_jar(root: Path | None = None) -> Path:
    """The job's own Java code (``jobs/counters/jvm``: the decoder, the checkpoint barrier
    marker in front of the sink), built by scripts/setup into the cache directory."""
    jar = (root or stack_dir()) / "lib" / "live-counters" / JOB_JAR
    if not jar.is_file():
        raise FileNotFoundError(f"{jar} not found: run scripts/setup (it builds jobs/counters/jvm)")
    if root is None and (REPO_ROOT / ".git").exists():
        # this checkout's (not a submission's unpacked copy): a source changed since the
        # build would silently not run
        newer = [p.name for p in (REPO_ROOT / "jobs" / "counters" / "jvm").rglob("*.java")
                 if p.stat().st_mtime > jar.stat().st_mtime]
        if newer:
            raise StaleBuild(f"{jar} is older than {', '.join(sorted(newer))}: run "
                             "scripts/setup (it builds jobs/counters/jvm)")
    return jar


class StaleBuild(RuntimeError):
    """The job's Java code changed since scripts/setup built it."""


def kafka_connector_jar() -> Path:
    """The shaded Kafka SQL connector fetched by scripts/setup."""
    jars = [j for j in connector_jars() if j.name.startswith("flink-sql-connector-kafka-")]
    if not jars:
        raise FileNotFoundError("flink-sql-connector-kafka jar not found: run scripts/setup")
    return jars[0]


# the Avro runtime the job's Java decoder reads with (fetched with flink-avro by scripts/setup)
AVRO_RUNTIME = ("avro-", "jackson-core-", "jackson-databind-", "jackson-annotations-")


def avro_jars(root: Path | None = None) -> list[Path]:
    """Avro's Java library and the Jackson it parses schemas with."""
    jars = [j for j in connector_jars(root) if j.name.startswith(AVRO_RUNTIME)]
    if len(jars) != len(AVRO_RUNTIME):
        raise FileNotFoundError(f"the Avro runtime jars {AVRO_RUNTIME} are not all in "
                                f"{(root or stack_dir()) / 'lib' / 'flink-connectors'}: "
                                "run scripts/setup")
    return jars


def job_jars() -> list[Path]:
    """Every jar the counting job ships with itself."""
    return [kafka_connector_jar(), job_jar(), *avro_jars()]
