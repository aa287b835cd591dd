"""``scripts/stack``: start, stop and inspect the local Kafka, Cassandra and Flink."""

from __future__ import annotations

import argparse
import logging
import shlex
import subprocess
import sys

from local_stack import stack
from local_stack.paths import StackPaths
from local_stack.process import StackError
from local_stack.profiles import REPLICATED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/stack", description=__doc__,
        epilog=f"Services: {', '.join(stack.ALL)}; by name only: {', '.join(stack.OPTIONAL)} "
               "(a second Cassandra with password authentication and client TLS, port 9142; "
               "the replicated profile's brokers, Cassandra ring and second TaskManager; "
               "Prometheus on 127.0.0.1:9090 with deploy/prometheus/alerts.yml). "
               f"Without names, up starts {' and '.join(stack.DEFAULT)}; down stops all. "
               "--replicated: the replicated profile (local_stack/profiles.py): three Kafka "
               "brokers (127.0.0.1:9192,9292,9392), three Cassandra nodes (127.0.0.1-3, port "
               "9043) and a second TaskManager, beside the single-node services.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start services and wait until they are ready")
    p_up.add_argument("services", nargs="*")
    p_up.add_argument("--all", action="store_true", help="also the standalone Flink cluster")
    p_up.add_argument("--replicated", action="store_true",
                      help="the replicated profile: 3 brokers, 3 Cassandra nodes, Flink with 2 "
                           "TaskManagers (give it 16 GiB of memory)")
    p_up.add_argument("--print-settings", action="store_true",
                      help="with --replicated: print the job's and scripts/provision's flags "
                           "for the profile and exit")
    p_down = sub.add_parser("down", help="stop services (by PID file)")
    p_down.add_argument("services", nargs="*", default=list(stack.ORDER))
    sub.add_parser("status", help="what runs, its PID and memory, whether it answers")
    p_logs = sub.add_parser("logs", help="show the end of a service's logs")
    p_logs.add_argument("service", choices=stack.ORDER)
    p_logs.add_argument("-n", "--lines", type=int, default=40)
    args = parser.parse_args(argv)
    if getattr(args, "print_settings", False) and not args.replicated:
        parser.error("--print-settings goes with --replicated")

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # refused connections while starting
    logging.getLogger("cassandra").setLevel(logging.CRITICAL)
    paths = StackPaths.from_env()
    try:
        if args.command == "up" and args.replicated:
            flags = shlex.join([*REPLICATED.job_args(), *REPLICATED.provision_args()])
            if args.print_settings:
                print(flags)
                return 0
            stack.up([*REPLICATED.services, *(args.services or [])], paths, progress=_say)
            _say(f"replicated profile ready; point the job and scripts/provision at it with: "
                 f"{flags}")
        elif args.command == "up":
            stack.up(list(stack.ALL) if args.all else args.services or list(stack.DEFAULT), paths,
                     progress=_say)
        elif args.command == "down":
            stack.down(args.services, paths, progress=_say)
        elif args.command == "status":
            return _status(paths)
        elif args.command == "logs":
            _logs(paths, args.service, args.lines)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _say(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


def _status(paths: StackPaths) -> int:
    rows = stack.status(paths)
    print(f"{'service':<16} {'process':<20} {'pid':>7} {'rss MiB':>8}  state")
    for r in rows:
        state = "stopped" if r.pid is None else ("ready" if r.ready else "running, not answering")
        rss = f"{r.rss_bytes / 2**20:.0f}" if r.rss_bytes else "-"
        print(f"{r.service:<16} {r.process:<20} {r.pid or '-':>7} {rss:>8}  {state}")
    print(f"cache directory: {paths.root}")
    return 0


def _logs(paths: StackPaths, service: str, lines: int) -> None:
    svc = stack.services(paths)[service]
    files = [p.console_log for p in svc.processes]
    log_path = svc.log_file
    files += sorted(log_path.glob("*.log")) if log_path.is_dir() else [log_path]
    for f in files:
        print(f"==> {f} <==")
        if f.exists():
            subprocess.run(["tail", "-n", str(lines), str(f)], check=False)


if __name__ == "__main__":
    sys.exit(main())
