"""The README agrees with the package it documents (pyproject.toml)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_readme_worker_dependencies_are_the_packages_dependencies():
    """The README's pip line for a cluster's Python workers names every dependency of the
    package (a worker without fastavro could not decode a single event)."""
    import re
    import shlex
    import tomllib

    from local_stack.paths import REPO_ROOT

    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    readme = (REPO_ROOT / "README.md").read_text()
    line = re.search(r"Python workers need only the dependencies\s*\n?\(`pip install ([^`]+)`",
                     readme)
    assert line, "the README's worker dependency line is missing"
    assert sorted(shlex.split(line.group(1))) == sorted(d.replace(" ", "") for d in deps)
