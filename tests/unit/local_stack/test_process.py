"""The PID-file discipline of the local stack: ours by PID and start time, stopped by PID."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from local_stack.process import ManagedProcess, StackError, wait_until

pytestmark = pytest.mark.unit


@pytest.fixture
def proc(tmp_path):
    return ManagedProcess("sleeper", tmp_path / "run", tmp_path / "logs")


def test_start_tracks_pid_and_stop_ends_it(proc):
    pid = proc.start([sys.executable, "-c", "import time; time.sleep(60)"])
    assert proc.pid() == pid and proc.is_running()
    assert proc.pid_file.read_text().split()[0] == str(pid)
    assert proc.stop(timeout=10) is True
    assert proc.pid() is None and not proc.pid_file.exists()
    assert proc.stop() is False  # stopping a stopped service is harmless


def test_second_start_reuses_the_running_process(proc):
    pid = proc.start([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert proc.start([sys.executable, "-c", "pass"]) == pid
    finally:
        proc.stop(timeout=10)


@pytest.mark.parametrize("content", ["1 0", "999999999 123", "garbage", "12"])
def test_stale_or_foreign_pid_file_is_not_ours(proc, content):
    # PID 1 exists but with another start time; the others do not exist or do not parse
    proc.run_dir.mkdir(parents=True)
    proc.pid_file.write_text(content)
    assert proc.pid() is None


def test_sigterm_ignored_leads_to_sigkill(proc):
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(60)")
    proc.start([sys.executable, "-c", code])
    wait_until(lambda: "up" in proc.console_log.read_text(), what="sleeper", timeout=10,
               processes=[proc], log_file=proc.console_log)
    assert proc.stop(timeout=1) is True
    assert not proc.is_running()


def test_signal_needs_a_running_process(proc):
    with pytest.raises(StackError, match="not running"):
        proc.signal(signal.SIGKILL)


def test_wait_until_names_the_log_when_the_process_dies(proc):
    proc.start([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(StackError, match=r"exited while starting; read .*sleeper\.log"):
        wait_until(lambda: False, what="sleeper", timeout=30, processes=[proc],
                   log_file=proc.log_dir / "sleeper.log")


def test_wait_until_times_out_with_the_log_file(proc):
    proc.start([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(StackError, match=r"not ready after 1s; read .*x\.log"):
            wait_until(lambda: False, what="sleeper", timeout=1, processes=[proc],
                       log_file=proc.log_dir / "x.log")
    finally:
        proc.stop(timeout=10)


def test_stop_together_signals_every_process_before_waiting(tmp_path):
    """Each of these exits only once the other has had its SIGTERM too (a quorum that waits
    for its members): stopped one after the other, the first would wait for the second."""
    from local_stack.process import stop_together

    procs = [ManagedProcess(f"member-{i}", tmp_path / "run", tmp_path / "logs") for i in (1, 2)]
    flags = [tmp_path / f"term-{i}" for i in (1, 2)]
    for i, p in enumerate(procs):
        mine, other = str(flags[i]), str(flags[1 - i])
        p.start([sys.executable, "-c",
                 "import os, signal, sys, time\n"
                 f"signal.signal(signal.SIGTERM, lambda *a: open({mine!r}, 'w').close())\n"
                 f"while not (os.path.exists({mine!r}) and os.path.exists({other!r})):\n"
                 "    time.sleep(0.05)\n"])
    time.sleep(1.0)  # both have their handler installed
    start = time.monotonic()
    assert stop_together(procs, timeout=20) == ["member-1", "member-2"]
    assert time.monotonic() - start < 10
    assert all(p.pid() is None for p in procs)


def test_python_workers_under_finds_a_taskmanagers_grandchildren_only(tmp_path):
    """A worker is found under its TaskManager (via the runner script), not elsewhere, and is
    no longer running once it ended."""
    import os
    import subprocess

    from local_stack.process import python_workers_under, still_running

    # stands in for the TaskManager -> pyflink-udf-runner.sh -> beam_boot tree
    fake = tmp_path / "pyflink" / "fn_execution" / "beam"
    fake.mkdir(parents=True)
    for d in (tmp_path / "pyflink", tmp_path / "pyflink" / "fn_execution", fake):
        (d / "__init__.py").write_text("")
    (fake / "beam_boot.py").write_text("import time\ntime.sleep(60)\n")
    runner = subprocess.Popen(
        ["bash", "-c", f"{sys.executable} -m pyflink.fn_execution.beam.beam_boot --id 1; :"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    try:
        _poll(lambda: python_workers_under(os.getpid()) != [])
        workers = python_workers_under(os.getpid())
        assert len(workers) == 1
        assert python_workers_under(runner.pid) == workers
        other = subprocess.Popen(["sleep", "30"])
        try:
            assert python_workers_under(other.pid) == []
        finally:
            other.kill()
            other.wait()
        os.kill(workers[0][0], signal.SIGKILL)
        _poll(lambda: not still_running(*workers[0]))
    finally:
        for pid, _ in python_workers_under(runner.pid):
            os.kill(pid, signal.SIGKILL)
        runner.kill()
        runner.wait()


def _poll(ready, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
