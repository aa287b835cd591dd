"""``scripts/faults``: run the fault scenarios against the local stack and report.

Starts whatever of the local stack the scenarios need and is not running (for the ``r*``
scenarios, the replicated profile's services), and stops that at the end unless
``--keep-stack``; runs each scenario with each seed, prints a line per run and the table,
and with ``--write`` puts the table into docs/reliability.md. Exit status 1 if any run was not
exact.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
import shlex
import sys
import time
from dataclasses import replace

from local_stack import stack
from local_stack.paths import REPO_ROOT
from tools.faults.harness import Harness
from tools.faults.report import markdown_table, replace_between
from tools.faults.scenarios import CI, FULL, SCENARIOS, run_scenario

# the report the tables go into, and its tables by the profile the scenarios ran on
DOC = REPO_ROOT / "docs" / "reliability.md"
MARKERS = {"single": ("<!-- faults:begin -->", "<!-- faults:end -->"),
           "replicated": ("<!-- faults-replicated:begin -->", "<!-- faults-replicated:end -->")}
PARTIAL = REPO_ROOT / ".stack" / "faults" / "last.json"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/faults", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                   help="run only this scenario (repeatable; default: all)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--events", type=int, help=f"messages per run (default {FULL.events:,})")
    p.add_argument("--ci-size", action="store_true",
                   help="the smaller numbers of the test suite's version")
    p.add_argument("--write", action="store_true",
                   help="write the table into docs/reliability.md (and .stack/faults/last.json)")
    p.add_argument("--keep-stack", action="store_true",
                   help="leave services this command started running")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    logging.getLogger("cassandra").setLevel(logging.ERROR)

    size = CI if a.ci_size else FULL
    if a.events:
        size = replace(size, events=a.events)
    keys = a.scenario or sorted(SCENARIOS)
    h = Harness(progress=lambda m: print(m, flush=True))
    needed = {name for key in keys for name in SCENARIOS[key].profile.services}
    started = [name for name, svc in h.services.items() if name in needed
               and not all(proc.is_running() for proc in svc.processes)]
    print(f"[faults] {len(keys)} scenarios x {len(a.seeds)} seeds, {size.events:,} messages "
          f"per run; starting {', '.join(started) or 'nothing (all running)'}", flush=True)
    t0 = time.monotonic()
    results = []
    try:  # each run starts the services of its profile (local_stack.profiles)
        for key in keys:
            for seed in a.seeds:
                results.append(run_scenario(h.run, key, seed, size))
                if a.write:  # every figure so far, in case the rest is interrupted
                    PARTIAL.parent.mkdir(parents=True, exist_ok=True)
                    PARTIAL.write_text(json.dumps([r.to_json() for r in results], indent=1))
    finally:
        if started and not a.keep_stack:
            stack.down(started, h.paths, progress=lambda m: None)
    took = time.monotonic() - t0
    table = markdown_table(results)
    print("\n" + table)
    wrong = [r for r in results if not r.exact]
    print(f"\n[faults] {len(results) - len(wrong)}/{len(results)} runs exact in "
          f"{took / 60:.1f} min")
    for r in wrong:
        print(f"  NOT EXACT: {r.summary()}")
        for line in r.wrong_rows[:10]:
            print(f"    {line}")
    if a.write:
        _write(results, argv if argv is not None else sys.argv[1:], took)
    return 1 if wrong else 0


def _write(results, argv: list[str], took: float) -> None:
    """The runs of each profile replace that profile's table in docs/reliability.md."""
    out = PARTIAL
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([r.to_json() for r in results], indent=1))
    text = DOC.read_text()
    for profile, (begin, end) in MARKERS.items():
        runs = [r for r in results if SCENARIOS[r.scenario].profile.name == profile]
        if not runs:
            continue
        faults = sum(len(r.faults) for r in runs)
        body = (f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'} "
                f"({platform.machine()}, {_cores()} cores, Python {platform.python_version()}); "
                f"{len(runs)} runs, {faults} faults, {took / 60:.0f} min in all (the whole "
                f"command).\nCommand: `scripts/faults {shlex.join(argv)}`\n\n"
                f"{markdown_table(runs)}\n")
        text = replace_between(text, begin, end, body)
    DOC.write_text(text)
    print(f"[faults] wrote {DOC} and {out}")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
