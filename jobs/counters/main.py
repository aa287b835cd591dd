"""Run the counting job: ``python -m jobs.counters.main`` (embedded mini-cluster) or
``flink run -py jobs/counters/main.py`` (a cluster). See ``--help`` for the settings."""

from __future__ import annotations

import logging

from jobs.counters.pipeline import build
from jobs.counters.settings import Settings
from jobs.runtime import execution_environment, kafka_connector_jar


def main(argv: list[str] | None = None) -> None:
    settings = Settings.parse(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = execution_environment([kafka_connector_jar()], settings.parallelism or None)
    if settings.checkpoint_interval_ms:
        env.enable_checkpointing(settings.checkpoint_interval_ms)
    from pyflink.table import StreamTableEnvironment

    t_env = StreamTableEnvironment.create(env)
    build(env, t_env, settings)
    env.execute("live-counters")


if __name__ == "__main__":
    main()
