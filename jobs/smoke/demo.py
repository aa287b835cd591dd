"""The demo of ``scripts/demo``: sample records through the smoke pipeline, embedded.

Creates the topics, produces ``--events`` records to ``smoke.in``, runs the smoke job on the
local mini-cluster and reports what arrived in ``smoke.out``.
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid

from kafka import KafkaConsumer, KafkaProducer

from jobs.smoke import main as smoke_main
from jobs.smoke.logic import MARK
from local_stack.kafka import ensure_topics


def run(bootstrap: str, events: int) -> int:
    run_id = uuid.uuid4().hex[:8]
    source, sink = f"smoke.in.{run_id}", f"smoke.out.{run_id}"
    ensure_topics(bootstrap, [source, sink], partitions=2)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(events):
        producer.send(source, f"{run_id}-{i}".encode())
    producer.flush()
    producer.close()
    print(f"[demo] produced {events} records to {source}; running the smoke job embedded")
    t0 = time.monotonic()
    smoke_main.main(["--bootstrap", bootstrap, "--source-topic", source, "--sink-topic", sink,
                     "--group-id", f"demo-{run_id}"])
    took = time.monotonic() - t0
    consumer = KafkaConsumer(sink, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000)
    got = sum(1 for m in consumer if m.value.startswith(MARK.encode()))
    consumer.close()
    print(f"[demo] {got}/{events} records arrived in {sink} ({took:.1f}s including the "
          "mini-cluster start)")
    return 0 if got == events else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--events", type=int, default=10_000)
    a = p.parse_args(argv)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    return run(a.bootstrap, a.events)


if __name__ == "__main__":
    raise SystemExit(main())
