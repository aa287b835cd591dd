"""A service process of the local stack, tracked by a PID file and stopped by PID.

A PID alone is not proof: after a reboot or a crash the number may belong to another
program. The PID file holds the PID and the process's start time as the kernel reports it
(``/proc/PID/stat``, which ``exec`` does not change); a PID counts as ours only while a live
process has both, so ``stop`` can never signal a stranger and a stale PID file is removed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class StackError(RuntimeError):
    """A service of the local stack could not be started, reached or stopped."""


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first, then the parent
    PID; the start time is [19]), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name in field 2 may contain spaces and parentheses: split after the last ')'
    return stat.rsplit(")", 1)[1].split()


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process, or None if there is none."""
    fields = _stat_fields(pid)
    return (fields[0], fields[19]) if fields is not None else None


def _alive(state: str | None) -> bool:
    return state is not None and state not in ("Z", "X")


@dataclass(frozen=True)
class ManagedProcess:
    """One long-running process: its PID file and its console log."""

    name: str
    run_dir: Path
    log_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def console_log(self) -> Path:
        return self.log_dir / f"{self.name}.out"

    def pid(self) -> int | None:
        """The PID of our running process, or None (a stale PID file is removed)."""
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            return None
        stat = _proc_stat(pid)
        if stat is not None and _alive(stat[0]) and stat[1] == started:
            return pid
        log.info("%s: removing stale PID file (PID %d is not ours any more)", self.name, pid)
        self.pid_file.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> int:
        """Spawn ``argv`` detached (own session), console output appended to ``console_log``."""
        if (pid := self.pid()) is not None:
            return pid
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.console_log, "ab") as out:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"\n==== {stamp} starting {self.name}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
            )
        stat = _proc_stat(proc.pid)
        self.pid_file.write_text(f"{proc.pid} {stat[1] if stat else '?'}\n")
        log.debug("%s: started PID %d: %s", self.name, proc.pid, " ".join(argv))
        return proc.pid

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout`` seconds. True if a process was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._exists(pid):
                break
            time.sleep(0.2)
        else:
            log.warning("%s: PID %d ignored SIGTERM for %.0fs, sending SIGKILL",
                        self.name, pid, timeout)
            self.signal(signal.SIGKILL)
            while self._exists(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def signal(self, sig: int) -> int:
        """Send ``sig`` to our process (for fault injection: SIGKILL, SIGSTOP, SIGCONT)."""
        pid = self.pid()
        if pid is None:
            raise StackError(f"{self.name} is not running")
        os.kill(pid, sig)
        return pid

    def rss_bytes(self) -> int | None:
        pid = self.pid()
        if pid is None:
            return None
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    def _exists(self, pid: int) -> bool:
        stat = _proc_stat(pid)
        if stat is None or not _alive(stat[0]):
            try:  # reap it if it is our own child (pytest fixtures start services in-process)
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            return False
        return True


def stop_together(processes: Sequence[ManagedProcess], timeout: float = 60.0) -> list[str]:
    """Stop ``processes`` at once: SIGTERM to each first, then wait for each (SIGKILL after
    ``timeout``). Members of one cluster go together: the last broker of a KRaft quorum
    stopped alone waits for controllers that are gone. Returns the names stopped."""
    running = [(p, p.pid()) for p in processes]
    running = [(p, pid) for p, pid in running if pid is not None]
    for _, pid in running:
        os.kill(pid, signal.SIGTERM)
    for p, _ in running:  # (one may have exited already: then there is nothing to wait for)
        p.stop(timeout=timeout)
        p.pid_file.unlink(missing_ok=True)
    return [p.name for p, _ in running]


def wait_until(ready: Callable[[], bool], *, what: str, timeout: float,
               processes: Sequence[ManagedProcess], log_file: Path,
               progress: Callable[[str], None] | None = None) -> float:
    """Poll ``ready`` until it is true; return the seconds waited.

    Fails fast, naming ``log_file``, when a process of the service exits, and after ``timeout``.
    """
    start = time.monotonic()
    last_report = start
    while True:
        try:
            if ready():
                return time.monotonic() - start
        except Exception as exc:  # noqa: BLE001 - not ready yet: connection refused, no leader, ...
            log.debug("%s not ready: %s", what, exc)
        for proc in processes:
            if not proc.is_running():
                raise StackError(f"{what}: process {proc.name} exited while starting; "
                                 f"read {log_file} (and {proc.console_log})")
        now = time.monotonic()
        if now - start > timeout:
            raise StackError(f"{what} not ready after {timeout:.0f}s; read {log_file}")
        if progress and now - last_report >= 5:
            progress(f"waiting for {what} ({now - start:.0f}s)")
            last_report = now
        time.sleep(0.5)


def python_workers_under(pid: int) -> list[tuple[int, str]]:
    """(PID, start time) of the PyFlink Python workers (``beam_boot``) that descend from
    ``pid`` (a TaskManager): their runner script is its child, they its grandchildren."""
    parents: dict[int, int] = {}
    workers: list[tuple[int, str]] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(name)
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if fields is None:
            continue
        parents[int(name)] = int(fields[1])
        if b"pyflink.fn_execution.beam.beam_boot" in cmd.split(b"\0"):  # python -m it
            workers.append((int(name), fields[19]))

    def descends(p: int) -> bool:
        for _ in range(16):
            p = parents.get(p, 0)
            if p == pid:
                return True
            if p <= 1:
                return False
        return False

    return [w for w in workers if descends(w[0])]


def still_running(pid: int, start: str) -> bool:
    """Whether the process ``pid`` that started at ``start`` (``python_workers_under``) runs."""
    stat = _proc_stat(pid)
    return stat is not None and _alive(stat[0]) and stat[1] == start
