"""Run the counting job: ``python -m jobs.counters.main`` (embedded mini-cluster) or
``flink run -py jobs/counters/main.py`` (a cluster). See ``--help`` for the settings."""

from __future__ import annotations

import logging

from jobs.counters.pipeline import build
from jobs.counters.settings import Settings
from jobs.runtime import execution_environment, kafka_connector_jar


def python_bundles(bundle_ms: int):
    """Python bundles of ``bundle_ms`` (or a million elements). The sink writes continuously
    on its own thread and waits for its writes at every bundle end (Flink also ends a bundle
    before each checkpoint barrier): with PyFlink's default of a bundle a second, that wait
    throttles a backlog every second. But PyFlink also buffers a Python operator's input for
    up to a bundle's time, so the bundle is a floor under the latency: ``--bundle-ms`` picks
    the trade-off (BENCHMARKS.md)."""
    from pyflink.common import Configuration

    conf = Configuration()
    conf.set_string("python.fn-execution.bundle.size", "1000000")
    conf.set_string("python.fn-execution.bundle.time", str(bundle_ms))
    return conf


def main(argv: list[str] | None = None) -> None:
    settings = Settings.parse(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = execution_environment([kafka_connector_jar()], settings.parallelism or None)
    env.configure(python_bundles(settings.bundle_ms))
    if settings.checkpoint_interval_ms:
        env.enable_checkpointing(settings.checkpoint_interval_ms)
    from pyflink.table import StreamTableEnvironment

    t_env = StreamTableEnvironment.create(env)
    build(env, t_env, settings)
    env.execute("live-counters")


if __name__ == "__main__":
    main()
