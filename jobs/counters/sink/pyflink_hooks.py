"""What the job adds to PyFlink's Python worker: an exit when its TaskManager is gone, and a
hook at the end of every bundle. Both reach into PyFlink's internals (apache-flink is pinned)."""

from __future__ import annotations

import os
import threading
import time

_WATCHDOG: list[threading.Thread] = []


def _ppid_of(pid: int) -> int | None:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def exit_with_taskmanager() -> None:
    """End this Python worker as soon as its TaskManager is gone.

    The worker is started by ``pyflink-udf-runner.sh``, a child of the TaskManager's JVM.
    When that JVM dies (kill -9, OOM killer) nothing stops the worker: it would live on as
    an orphan and could still write to Cassandra while the restarted job reads what is there,
    the one order the sink's exactly-once argument cannot allow. A thread watches the
    runner's parent and exits the process within 0.2 s of it changing (no-op on Windows or
    when the worker is not started that way).
    """
    if _WATCHDOG:
        return
    runner = os.getppid()
    taskmanager = _ppid_of(runner)
    if taskmanager is None or taskmanager <= 1:
        return

    def watch() -> None:
        while True:
            time.sleep(0.2)
            if _ppid_of(runner) != taskmanager:
                # no logging here: Beam's log handler deadlocks once its TaskManager is gone,
                # and a logging call would wait on its lock forever (the harness found
                # workers stuck exactly there)
                os.write(2, f"TaskManager (PID {taskmanager}) is gone: Python worker "
                            f"{os.getpid()} exits\n".encode())
                os._exit(70)

    t = threading.Thread(target=watch, name="exit-with-taskmanager", daemon=True)
    t.start()
    _WATCHDOG.append(t)


_BUNDLE_END: list = []


def on_bundle_end(callback) -> None:
    """Run ``callback`` at the end of every bundle of this Python worker.

    PyFlink has no public hook for it, and the sink needs one: Flink finishes the current
    bundle (``prepareSnapshotPreBarrier``) before a checkpoint barrier passes a Python
    operator, so draining writes there means a checkpoint never covers an unwritten truth.
    ``Operation.finish`` is what PyFlink calls at the end of each bundle (apache-flink is
    pinned; ``tests/unit/jobs/counters/sink/test_pyflink_hooks.py`` fails if this stops being true).
    Every Python operation of the worker ends its bundles through it, on the worker's
    threads, so a callback must check that the bundle ending is its own.
    """
    # imported when installed: PyFlink's worker runtime, loaded only in a Python worker
    from pyflink.fn_execution.datastream.process import operations

    if not getattr(operations.Operation, "_live_counters_bundle_hook", False):
        original = operations.Operation.finish

        def finish(self):
            for cb in list(_BUNDLE_END):
                cb()
            original(self)

        operations.Operation.finish = finish
        operations.Operation._live_counters_bundle_hook = True
    _BUNDLE_END.append(callback)


def off_bundle_end(callback) -> None:
    if callback in _BUNDLE_END:
        _BUNDLE_END.remove(callback)


