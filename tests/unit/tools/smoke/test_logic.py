import pytest

from tools.smoke.logic import MARK, mark

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", ["", "a", "event-1", "ünïcode"])
def test_mark_prefixes(value):
    assert mark(value) == MARK + value
