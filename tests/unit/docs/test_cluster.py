"""docs/cluster.md agrees with the package it documents (pyproject.toml)."""

from __future__ import annotations

import re
import shlex
import tomllib

from local_stack.paths import REPO_ROOT


def test_documented_worker_dependencies_are_the_packages_dependencies():
    """docs/cluster.md's pip line for a cluster's Python workers names every dependency of the
    package (a worker without fastavro could not decode a single event)."""
    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    page = (REPO_ROOT / "docs" / "cluster.md").read_text()
    line = re.search(r"Python workers need only the dependencies\s*\n?\(`pip install ([^`]+)`",
                     page)
    assert line, "docs/cluster.md's worker dependency line is missing"
    assert sorted(shlex.split(line.group(1))) == sorted(d.replace(" ", "") for d in deps)
