"""``scripts/cql``: cqlsh, the Cassandra shell analysts query the counter tables with,
connected as the job connects.

The address comes from the job's settings (``--cassandra-hosts``, ``--cassandra-port``, or
``LIVE_COUNTERS_CASSANDRA_HOSTS`` / ``CASSANDRA_HOSTS`` / ``LIVE_COUNTERS_CASSANDRA_PORT``;
default the local stack's), the keyspace from ``--keyspace``; credentials and TLS from
``CASSANDRA_USERNAME``, ``CASSANDRA_PASSWORD`` and ``CASSANDRA_SSL_CA`` as for the job. They go
to cqlsh in a cqlshrc file readable by this user only and removed afterwards, never on the
command line. Other arguments go to cqlsh (``-e 'SELECT ...'``, ``-f FILE``).
"""

from __future__ import annotations

import argparse
import configparser
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from connectors.cassandra_counters import client_security
from jobs.counters.settings import Settings

SETTINGS = ("cassandra_hosts", "cassandra_port", "keyspace")


def cqlshrc(host: str, port: int, credentials: tuple[str, str] | None,
            ssl_ca: str | None) -> str:
    """The cqlshrc text for one node (cqlsh connects to one and learns the ring)."""
    rc = configparser.ConfigParser(interpolation=None)
    rc["connection"] = {"hostname": host, "port": str(port)}
    if credentials:
        rc["authentication"] = {"username": credentials[0], "password": credentials[1]}
    if ssl_ca:
        rc["connection"]["ssl"] = "true"
        rc["ssl"] = {"certfile": ssl_ca, "validate": "true"}
    out = io.StringIO()
    rc.write(out)
    return out.getvalue()


def command(cqlsh: str, rc_path: str, keyspace: str, rest: list[str]) -> list[str]:
    return [cqlsh, "--cqlshrc", rc_path, "-k", keyspace, *rest]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="scripts/cql", description=__doc__.split("\n\n")[1].replace("``", ""),
        epilog="e.g.: scripts/cql -e \"SELECT * FROM room_totals WHERE room_id = 42\"")
    Settings.add_arguments(p, SETTINGS)
    a, rest = p.parse_known_args(argv)
    s = Settings.from_namespace(a, p)
    cqlsh = shutil.which("cqlsh", path=str(Path(sys.executable).parent)) or shutil.which("cqlsh")
    if cqlsh is None:
        p.error("cqlsh is not installed: run scripts/setup (it installs cqlsh from PyPI)")
    try:
        credentials, ssl_ca = client_security(os.environ)
    except ValueError as exc:
        p.error(str(exc))
    with tempfile.TemporaryDirectory(prefix="live-counters-cql-") as tmp:  # mode 700
        rc = Path(tmp) / "cqlshrc"
        rc.write_text(cqlshrc(s.cassandra_hosts[0], s.cassandra_port, credentials, ssl_ca))
        rc.chmod(0o600)
        return subprocess.run(command(cqlsh, str(rc), s.keyspace, rest)).returncode


if __name__ == "__main__":
    sys.exit(main())
