"""``scripts/submit``: submit a PyFlink job file to the local standalone Flink cluster, or to
another one (``--jobmanager``): the project's packages and schemas go along as a zip."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from local_stack.flink import submit
from local_stack.process import StackError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="scripts/submit", description=__doc__,
        epilog="Arguments after the job file go to the job, e.g. "
               "scripts/submit tools/smoke/main.py --sink-topic smoke.out")
    p.add_argument("--detached", action="store_true", help="return once the job is submitted")
    p.add_argument("-p", "--parallelism", type=int)
    p.add_argument("-m", "--jobmanager", metavar="HOST:PORT",
                   help="REST endpoint of the Flink cluster (default: the local one, "
                        "127.0.0.1:8081)")
    p.add_argument("-s", "--from-savepoint", metavar="PATH",
                   help="start from this savepoint or retained checkpoint (flink run -s)")
    p.add_argument("job_file", type=Path)
    p.add_argument("job_args", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    try:
        res = submit(a.job_file, a.job_args, detached=a.detached, parallelism=a.parallelism,
                     jobmanager=a.jobmanager, restore_from=a.from_savepoint)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(res.stdout, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
