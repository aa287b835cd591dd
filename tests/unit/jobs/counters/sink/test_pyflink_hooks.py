"""The PyFlink internals ``jobs/counters/sink/pyflink_hooks.py`` reaches into, held in the fast
tier: a PyFlink upgrade that moves them breaks the sink's drain before checkpoint barriers,
which otherwise only the integration tier would notice."""

from __future__ import annotations

import inspect
import re
from types import SimpleNamespace

import pytest

from jobs.counters.sink.pyflink_hooks import off_bundle_end, on_bundle_end

pytestmark = pytest.mark.unit


def _method_body(source: str, name: str) -> str:
    """The text of ``def name(self...)`` up to the next ``def`` (or the end)."""
    m = re.search(rf"^(\s*)(c?p?def) {name}\(self.*?(?=^\1c?p?def |\Z)", source, re.S | re.M)
    assert m, f"no method {name} in the source"
    return m.group(0)


def test_beam_ends_each_bundle_through_the_operations_finish():
    """PyFlink's Beam bridge (both its Cython and its pure-Python build) ends a bundle by
    calling ``finish()`` of the operation that runs the user's function: the call the hook
    wraps."""
    from pyflink.fn_execution.beam import beam_operations_fast, beam_operations_slow

    slow = inspect.getsource(beam_operations_slow.FunctionOperation.finish)
    assert "self.operation.finish()" in slow
    pyx = beam_operations_fast.__file__.rsplit(".", 2)[0] + ".pyx"
    with open(pyx) as f:
        fast = f.read()
    function_operation = fast[fast.index("cdef class FunctionOperation"):]
    assert "self.operation.finish()" in _method_body(function_operation, "finish")


def test_the_datastream_operation_reads_gauges_in_the_finish_the_hook_wraps():
    """Gauges are handed to Flink in ``Operation.finish``: after the hook's callbacks, so the
    sink's gauges show what its drain at that bundle end did."""
    from pyflink.fn_execution.datastream.process import operations

    assert "finish" in vars(operations.Operation)
    assert "_update_gauge" in inspect.getsource(operations.Operation.finish)
    assert issubclass(operations.StatefulOperation, operations.Operation)
    assert "super().finish()" in inspect.getsource(operations.StatefulOperation.finish)


def test_the_hook_runs_before_pyflink_s_own_finish():
    """The callbacks run first, then PyFlink's own finish (gauges, then state); a keyed
    operation's finish reaches it through ``super().finish()``, checked above."""
    from pyflink.fn_execution.datastream.process import operations

    order: list[str] = []

    def callback() -> None:
        order.append("hook")

    class Backend:
        def __init__(self, name: str) -> None:
            self.name = name

        def commit(self) -> None:
            order.append(self.name)

    def gauges(_group) -> None:
        order.append("gauges")

    on_bundle_end(callback)
    try:
        stateless = SimpleNamespace(base_metric_group=None, _update_gauge=gauges,
                                    operator_state_backend=Backend("operator state"))
        operations.Operation.finish(stateless)
        assert order == ["hook", "gauges", "operator state"]
    finally:
        off_bundle_end(callback)
    order.clear()
    operations.Operation.finish(stateless)
    assert order == ["gauges", "operator state"]  # removed: PyFlink's own finish only
