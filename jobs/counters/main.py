"""Run the counting job: ``python -m jobs.counters.main`` (embedded mini-cluster) or
``flink run -py jobs/counters/main.py`` (a cluster). See ``--help`` for the settings."""

from __future__ import annotations

import logging

from jobs.counters.pipeline import build
from jobs.counters.settings import Settings
from jobs.runtime import execution_environment, kafka_connector_jar


def python_bundles():
    """Long Python bundles. The sink writes continuously on its own thread and must wait for
    its writes at every bundle end (Flink ends the bundle before each checkpoint barrier):
    with PyFlink's default of a bundle a second, that wait would throttle the job every
    second. Bundles end at the checkpoints (or after 10 s / a million elements) instead;
    latency does not depend on it (rows are written as their truths arrive)."""
    from pyflink.common import Configuration

    conf = Configuration()
    conf.set_string("python.fn-execution.bundle.size", "1000000")
    conf.set_string("python.fn-execution.bundle.time", "10000")
    return conf


def main(argv: list[str] | None = None) -> None:
    settings = Settings.parse(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = execution_environment([kafka_connector_jar()], settings.parallelism or None)
    env.configure(python_bundles())
    if settings.checkpoint_interval_ms:
        env.enable_checkpointing(settings.checkpoint_interval_ms)
    from pyflink.table import StreamTableEnvironment

    t_env = StreamTableEnvironment.create(env)
    build(env, t_env, settings)
    env.execute("live-counters")


if __name__ == "__main__":
    main()
