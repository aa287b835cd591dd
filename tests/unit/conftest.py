"""Every test under tests/unit is of the unit tier (pure logic, no services), marked or not:
``scripts/test -m unit`` selects them all."""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if UNIT in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.unit)
