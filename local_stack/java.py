"""Finding a Java 17 runtime: Kafka 4, Cassandra 5.0 and Flink 2.2 all run on it."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from local_stack.process import StackError

REQUIRED_MAJOR = 17


def _major(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    m = re.search(r'version "(\d+)', out.stderr)
    return int(m.group(1)) if m else None


@cache
def java_home() -> Path:
    """JAVA_HOME if it is Java 17, else the ``java`` on PATH, else an installed JDK 17.

    Cassandra 5.0 does not start on newer Java releases, so a newer default Java on PATH is
    passed over rather than used.
    """
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    if (on_path := shutil.which("java")) is not None:
        candidates.append(Path(on_path).resolve().parent.parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/jvm/*17*"))]
    for home in candidates:
        if _major(home / "bin" / "java") == REQUIRED_MAJOR:
            return home
    looked = ", ".join(map(str, candidates))
    raise StackError(f"no Java {REQUIRED_MAJOR} found (looked at {looked}); "
                     "install openjdk-17-jre-headless or set JAVA_HOME")


def java() -> str:
    return str(java_home() / "bin" / "java")


def classpath(lib_dir: Path) -> str:
    if not lib_dir.is_dir() or not any(lib_dir.glob("*.jar")):
        raise StackError(f"no jars in {lib_dir}: run scripts/setup first")
    return str(lib_dir / "*")
