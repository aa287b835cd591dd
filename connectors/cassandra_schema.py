"""The CQL schema: keyspace, counter tables and roles, applied from the files in ``cql/``.

Idempotent (``IF NOT EXISTS``): run it before the job, as often as you like.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

CQL_DIR = Path(__file__).resolve().parent / "cql"
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def statements(path: Path, **values: str) -> list[str]:
    """The statements of a CQL file with ``{name}`` filled in; comments dropped."""
    text = "\n".join(line for line in path.read_text().splitlines()
                     if not line.strip().startswith("--"))
    return [s.strip().format(**values) for s in text.split(";") if s.strip()]


def replication_clause(replication: Mapping[str, object]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in replication.items()) + "}"


def keyspace_exists(session, keyspace: str) -> bool:
    return session.execute("SELECT keyspace_name FROM system_schema.keyspaces "
                           "WHERE keyspace_name = %s", (keyspace,)).one() is not None


def migrate(session, keyspace: str, replication: Mapping[str, object]) -> list[str]:
    """Create the keyspace and tables (and roles when authentication is on); return what ran."""
    if not _IDENT.match(keyspace):
        raise ValueError(f"keyspace name {keyspace!r} is not a plain CQL identifier")
    ran = [f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
           f"{replication_clause(replication)}"]
    for path in sorted(CQL_DIR.glob("[0-9]*.cql")):
        ran += statements(path, keyspace=keyspace)
    if authentication_enabled(session):
        roles = role_settings()
        ran += statements(CQL_DIR / "roles.cql", keyspace=keyspace, **roles)
        # a role made by an earlier run gets the password the environment gives now (how
        # passwords are rotated); one made by this run has it already, and Cassandra refuses
        # a second password change within seconds
        ran += [f"ALTER ROLE {roles[r]} WITH PASSWORD = '{roles[r + '_password']}'"
                for r in ("writer", "analyst") if role_exists(session, roles[r])]
    for stmt in ran:
        # a schema change waits for every live node of a ring to take it: give it a minute
        # (the driver's default of 10 s is short for a loaded ring; each statement is
        # idempotent, so running provisioning again is the retry)
        session.execute(stmt, timeout=60)
    session.cluster.control_connection.wait_for_schema_agreement()
    return ran


def authentication_enabled(session) -> bool:
    row = session.execute("SELECT value FROM system_views.settings "
                          "WHERE name = 'authenticator.class_name'").one()
    return row is not None and "AllowAll" not in (row.value or "AllowAll")


def role_exists(session, role: str) -> bool:
    return session.execute("SELECT role FROM system_auth.roles WHERE role = %s",
                           (role,)).one() is not None


def role_settings() -> dict[str, str]:
    """Role names and passwords from the environment; passwords are required."""
    values = {
        "writer": os.environ.get("LIVE_COUNTERS_WRITER_ROLE", "live_counters_writer"),
        "analyst": os.environ.get("LIVE_COUNTERS_ANALYST_ROLE", "analyst"),
        "writer_password": os.environ.get("LIVE_COUNTERS_WRITER_PASSWORD", ""),
        "analyst_password": os.environ.get("LIVE_COUNTERS_ANALYST_PASSWORD", ""),
    }
    for role in ("writer", "analyst"):
        if not _IDENT.match(values[role]):
            raise ValueError(f"role name {values[role]!r} is not a plain CQL identifier")
        if not values[f"{role}_password"] or "'" in values[f"{role}_password"]:
            raise ValueError(f"authentication is on: set LIVE_COUNTERS_{role.upper()}_PASSWORD "
                             "(without quotes) to create the roles")
    return values
