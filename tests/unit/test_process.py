"""The PID-file discipline of the local stack: ours by PID and start time, stopped by PID."""

from __future__ import annotations

import signal
import sys

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
