"""The demo of ``scripts/demo``: the counting job on the local stack with a demo load.

Provisions the topics and keyspace, starts the job embedded (a local mini-cluster in a child
process), sends a skewed load of likes and gifts with repeats, late events and some bad
messages, waits until Cassandra holds exactly what it should, and prints the top rooms.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time

# The imports of the demo's work are inside the functions: ``--help`` needs only Python
# (scripts/demo --help runs before setup and starts nothing).


def _as_expected(snap):
    from tools.workload import Expected

    e = Expected()
    e.totals.update(snap.totals)
    e.windows.update(snap.windows)
    e.gifts.update(snap.gifts)
    return e


# The demo counts into a keyspace and consumer group of its own, from empty at each run: a job
# started without the state of the run before could not go on counting that run's rows (the
# job refuses to start there: jobs/counters/main.py, counted_without_state).
DEMO_ARGS = ["--keyspace", "live_counters_demo", "--group-id", "live-counters-demo"]


def reset(s) -> str | None:
    """Empty the demo's keyspace and start its consumer group at the end of the topics (None),
    or say why not: a demo job still runs."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    from connectors.cassandra_schema import keyspace_exists
    from connectors.kafka_admin import end_offsets
    from connectors.writer_lease import WriterLease
    from jobs.counters.ops.provision import provision
    from local_stack.cassandra import connect

    with connect(list(s.cassandra_hosts)) as session:
        if keyspace_exists(session, s.keyspace):
            holder = WriterLease(session, s.keyspace).holder()
            if holder is not None and holder.live:
                return (f"a demo job still counts into keyspace {s.keyspace} "
                        f"({holder.owner}, e.g. scripts/demo --keep-running): stop it first")
            session.execute(f"DROP KEYSPACE {s.keyspace}", timeout=120)
    provision(s)
    ends = end_offsets(s.bootstrap, [s.likes_topic, s.gifts_topic])
    consumer = KafkaConsumer(bootstrap_servers=s.bootstrap, group_id=s.group_id,
                             enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(t, p) for t, p in ends])
        consumer.commit({TopicPartition(t, p): OffsetAndMetadata(off, "", -1)
                         for (t, p), off in ends.items()})
    finally:
        consumer.close()
    return None


def run(events: int, rooms: int, keep_running: bool, timeout_s: float) -> int:
    from jobs.counters.ops import watch
    from jobs.counters.settings import Settings
    from local_stack.cassandra import connect
    from local_stack.paths import StackPaths
    from tools.verify import compare, snapshot
    from tools.workload import generate, plus, produce

    ENDPOINTS = watch.DEFAULT_ENDPOINTS
    s = Settings.parse(DEMO_ARGS)
    hosts = list(s.cassandra_hosts)
    refused = reset(s)
    if refused:
        print(f"[demo] {refused}", file=sys.stderr)
        return 1
    with connect(hosts) as session:
        before = _as_expected(snapshot(session, s.keyspace))
    log = StackPaths.from_env().logs / "counters-demo.log"
    print(f"[demo] starting the counting job on a local mini-cluster (keyspace {s.keyspace}, "
          f"log: {log})", flush=True)
    with open(log, "a") as out:
        job = subprocess.Popen([sys.executable, "-m", "jobs.counters.main", *DEMO_ARGS,
                                "--flush-ms", "500"],
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wl = generate(int(time.time()), events, rooms, int(time.time() * 1000))
        print(f"[demo] sending {len(wl.messages)} messages: {wl.counted} to count, "
              f"{wl.duplicates} repeats, {wl.late} late, {wl.invalid} bad (-> {s.dlq_topic})",
              flush=True)
        produce(wl, s.bootstrap, s.likes_topic, s.gifts_topic)
        want = plus(before, wl.expected)
        t0 = time.monotonic()
        with connect(hosts) as session:
            while True:
                report = compare(want, snapshot(session, s.keyspace))
                waited = time.monotonic() - t0
                if report.exact or waited > timeout_s or job.poll() is not None:
                    break
                print(f"[demo] waiting for the counters ({waited:.0f}s): "
                      f"{len(report.rows_wrong)} of {report.rows_checked} rows still moving; "
                      f"job: {watch.one_line(watch.snapshot(ENDPOINTS, 'live-counters'))}",
                      flush=True)
                time.sleep(5)
            if not report.exact:
                print(f"[demo] NOT exact after {waited:.0f}s: {report.summary()}; see {log}")
                return 1
            print(f"[demo] exact after {waited:.0f}s: {report.summary()}")
            print("[demo] the job's signals from its Prometheus endpoint (live: "
                  "./scripts/watch; docs/monitoring.md):")
            prev = watch.snapshot(ENDPOINTS, "live-counters")
            time.sleep(2)
            cur = watch.snapshot(ENDPOINTS, "live-counters")
            print(watch.render(prev, cur, watch.end_offsets(s.bootstrap, sorted(cur.offsets))))
            top = sorted(session.execute(
                f"SELECT room_id, likes, gift_count, gift_value FROM {s.keyspace}.room_totals"),
                key=lambda r: -(r.gift_value or 0))[:10]
        print(f"\n  top rooms by gift value (cqlsh: SELECT * FROM {s.keyspace}.room_totals "
              "WHERE room_id = ...;)")
        print(f"  {'room_id':>8} {'likes':>10} {'gifts':>8} {'gift_value':>12}")
        for r in top:
            print(f"  {r.room_id:>8} {r.likes:>10} {r.gift_count:>8} {r.gift_value:>12}")
        if keep_running:
            print(f"\n[demo] the job keeps running (PID {job.pid}); Ctrl-C stops it")
            job.wait()
        return 0
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="scripts/demo",
        description="Set up (scripts/setup), start the local Kafka and Cassandra "
                    "(scripts/stack up), provision the topics and keyspace, run the counting "
                    "job on a local Flink mini-cluster, send a skewed load of likes and gifts "
                    "(with repeats, late events and bad messages), wait until every counter "
                    "row in Cassandra is exact, and print the top rooms.",
        epilog="The stack keeps running afterwards: scripts/stack status | scripts/stack down.")
    p.add_argument("--events", type=int, default=50_000, metavar="N",
                   help="events to send (default 50000)")
    p.add_argument("--rooms", type=int, default=1_000, metavar="N",
                   help="rooms they go to, skewed (default 1000)")
    p.add_argument("--keep-running", action="store_true",
                   help="leave the job running after the demo load (Ctrl-C stops it)")
    p.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                   help="how long to wait for the counters to be exact (default 300)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    logging.getLogger("cassandra").setLevel(logging.ERROR)
    try:
        return run(a.events, a.rooms, a.keep_running, a.timeout)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
