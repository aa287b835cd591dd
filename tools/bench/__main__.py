"""``scripts/bench``: the benchmark suite on the local stack (see ``tools.bench.suite``).

Prints progress and a table, writes docs/benchmarks.md, docs/benchmarks.png and the figures
as JSON (``.stack/bench/last.json``). Exit status 1 if any measurement was not exact.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time

from local_stack import stack
from local_stack.paths import REPO_ROOT, StackPaths
from tools.bench import report, suite

# where a run's report and its chart go (the report links the chart relatively)
DOC = REPO_ROOT / "docs" / "benchmarks.md"
CHART = REPO_ROOT / "docs" / "benchmarks.png"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="small sizes, one latency rate, no Quix peer (under 5 minutes)")
    p.add_argument("--only", default=",".join(suite.SCENARIOS),
                   help=f"comma-separated scenarios (default all: {','.join(suite.SCENARIOS)})")
    p.add_argument("--events", type=int, help="backlog of the drain, ceilings and peers (default "
                   "300,000; 100,000 with --quick)")
    p.add_argument("--rooms", type=int, help="rooms of the drain (default 100,000)")
    p.add_argument("--platform-events", type=int,
                   help="backlog of the live platform (default 10,000,000; 300,000 with --quick)")
    p.add_argument("--platform-rooms", type=int,
                   help="rooms of the live platform (default 10,000; 1,000 with --quick)")
    p.add_argument("--parallelism", type=int, default=2,
                   help="of the job and the Flink ceilings (default 2: one per core)")
    p.add_argument("--rates", default="",
                   help="latency rates, comma-separated events/s (default 5000,20000,40000; "
                        "5000 with --quick)")
    p.add_argument("--job-args", default="",
                   help="flags for every counting job of the run, e.g. \"--bundle-ms 1000\"")
    p.add_argument("--no-write", action="store_true",
                   help="print only; leave docs/benchmarks.md and the chart alone")
    p.add_argument("--render", action="store_true",
                   help="measure nothing: write docs/benchmarks.md and the chart again from the "
                        "last run's figures (.stack/bench/last.json)")
    a = p.parse_args(argv)
    only = tuple(x.strip() for x in a.only.split(",") if x.strip())
    unknown = set(only) - set(suite.SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "cassandra"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    t0 = time.monotonic()

    def say(msg: str) -> None:
        print(f"[bench {time.monotonic() - t0:6.0f}s] {msg}", flush=True)

    paths = StackPaths.from_env()
    last = paths.root / "bench" / "last.json"
    if a.render:
        if not last.is_file():
            p.error(f"no figures at {last}: run scripts/bench first")
        result = report.BenchResult.from_json(last.read_text())
        suite.add_analysis(result)
        report.write(result, DOC, CHART, json_path=last)
        print(report.console_table(result))
        return 1 if result.not_exact() else 0
    say("starting the local stack (Kafka, Cassandra, Flink) if it is not running")
    stack.up(list(stack.ALL), paths, progress=lambda m: say(f"stack: {m}"))
    sizes = suite.with_events(suite.Sizes.quick() if a.quick else suite.Sizes.full(),
                              a.events, a.rooms,
                              tuple(int(r) for r in a.rates.split(",") if r.strip()),
                              a.platform_events, a.platform_rooms)
    command = "scripts/bench " + shlex.join(argv) if argv else "scripts/bench"
    result = suite.run(sizes, a.parallelism, only, command.strip(), say,
                       "quick" if a.quick else "full", tuple(shlex.split(a.job_args)))
    print()
    print(report.console_table(result))
    if not a.no_write:
        md, png = DOC, CHART
        report.write(result, md, png, json_path=last)
        say(f"wrote {md.name}, {png.name} and {last}")
    say(f"done in {(time.monotonic() - t0) / 60:.1f} min")
    return 1 if result.not_exact() else 0


if __name__ == "__main__":
    sys.exit(main())
