"""The truth row (``jobs/counters/truth.py``): what the hold is told of its columns, and which
counter row each truth is."""

from __future__ import annotations

import pytest

from connectors.counter_rows import GIFTS, TOTALS, WINDOWS
from jobs.counters import truth
from jobs.counters.truth import truth_of

pytestmark = pytest.mark.unit


def test_the_hold_is_told_the_truth_rows_field_types():
    """livecounters.TruthHold builds its key and marker row from these letters (L BIGINT,
    I INT, S STRING), one per column of the truth query, in order."""
    types = truth.field_types()
    assert len(types) == len(truth.FIELDS)
    assert dict(zip(truth.FIELDS, types, strict=True)) == {
        "room_id": "L", "wstart": "L", "kind": "S", "gift_id": "I", "likes": "L",
        "gift_count": "L", "gift_value": "L", "events": "L", "duplicates": "L",
        "late_events": "L", "max_ts": "L"}


@pytest.mark.parametrize("values, expected", [
    # room_id, wstart, kind, gift_id, likes, gift_count, gift_value, events, duplicates,
    # late_events, max_ts (truth.FIELDS)
    ((7, -1, "", -1, 5, 2, 300, 6, 1, 0, 99), ((TOTALS, 7, 0), (5, 2, 300, 6, 1))),
    ((7, 120_000, "", -1, 5, 2, 300, 6, 1, 0, 99), ((WINDOWS, 7, 120_000), (5, 2, 300))),
    ((7, -1, "gift", 4, 0, 2, 300, 2, 0, 0, 99), ((GIFTS, 7, 4), (2, 300))),
])
def test_a_truth_query_row_names_its_counter_row(values, expected):
    assert truth_of(values) == expected
