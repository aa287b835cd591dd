"""Run the smoke pipeline: ``python -m tools.smoke.main`` (embedded mini-cluster) or
``flink run -py tools/smoke/main.py`` (a cluster). Flags override environment variables.

It copies what the source topic holds when it starts (earliest to latest offsets) to the sink
topic, marking each message, and ends. Both topics are created if missing.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from connectors.kafka_admin import ensure_topics
from jobs.runtime import execution_environment, kafka_connector_jar
from local_stack.addresses import KAFKA_BOOTSTRAP
from tools.smoke.pipeline import build


@dataclass(frozen=True)
class SmokeSettings:
    bootstrap: str
    source_topic: str
    sink_topic: str
    group_id: str
    parallelism: int

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> SmokeSettings:
        p = argparse.ArgumentParser(prog="tools.smoke.main", description=__doc__)
        p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", KAFKA_BOOTSTRAP))
        p.add_argument("--source-topic", default="smoke.in")
        p.add_argument("--sink-topic", default="smoke.out")
        p.add_argument("--group-id", default="live-counters-smoke")
        p.add_argument("--parallelism", type=int, default=1)
        a = p.parse_args(argv)
        return cls(a.bootstrap, a.source_topic, a.sink_topic, a.group_id, a.parallelism)


def main(argv: list[str] | None = None) -> None:
    settings = SmokeSettings.parse(argv)
    # the example's own topics (the broker never creates topics on demand); idempotent
    ensure_topics(settings.bootstrap, [settings.source_topic, settings.sink_topic], partitions=1)
    env = execution_environment([kafka_connector_jar()], settings.parallelism)
    build(env, settings.bootstrap, settings.source_topic, settings.sink_topic, settings.group_id)
    env.execute("live-counters-smoke")


if __name__ == "__main__":
    main()
