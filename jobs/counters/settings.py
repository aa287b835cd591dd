"""The counting job's one settings object, built once in main.py from flags and environment."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields


def _env(name: str, default: str) -> str:
    return os.environ.get(f"LIVE_COUNTERS_{name}", default)


@dataclass(frozen=True)
class Settings:
    """Job concerns only; cluster concerns (checkpoint storage, state backend) are flink-conf/."""

    bootstrap: str = "127.0.0.1:9092"
    likes_topic: str = "live.likes"
    gifts_topic: str = "live.gifts"
    dlq_topic: str = "live.dlq"
    group_id: str = "live-counters"
    # where a new consumer group starts: earliest | latest (a restored job resumes from state)
    startup: str = "earliest"
    cassandra_hosts: tuple[str, ...] = ("127.0.0.1",)
    cassandra_port: int = 9042
    keyspace: str = "live_counters"
    # replication of the keyspace the migration creates (e.g. "NetworkTopologyStrategy:dc1=3")
    replication: str = "SimpleStrategy:replication_factor=1"
    window_ms: int = 60_000             # time-series window (room_windows rows)
    flush_ms: int = 1_000               # truth changes are batched and written this often
    dedup_horizon_ms: int = 2 * 3_600_000  # repeats of an event id within this are ignored
    watermark_delay_ms: int = 5_000     # out-of-orderness allowed before an event counts as late
    idle_timeout_ms: int = 10_000       # an input without events stops holding the watermark
    settle_ms: int = 6_000              # wait before re-reading rows after a restart/timeout
    # Python bundles: PyFlink buffers a Python operator's input up to this long, and the sink
    # waits for its writes at each bundle end. Long: a backlog drains faster (fewer waits);
    # short: counts are visible sooner (scripts/bench measures both)
    bundle_ms: int = 10_000
    checkpoint_interval_ms: int = 0     # 0: the interval from flink-conf/
    parallelism: int = 0                # 0: the cluster's default

    @property
    def replication_map(self) -> dict[str, str]:
        cls, _, opts = self.replication.partition(":")
        out = {"class": cls}
        for kv in filter(None, opts.split(",")):
            k, _, v = kv.partition("=")
            out[k] = v
        return out

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> Settings:
        """Flags (``--window-ms 1000``) over environment (``LIVE_COUNTERS_WINDOW_MS``) over
        defaults; ``KAFKA_BOOTSTRAP`` and ``CASSANDRA_HOSTS`` are honoured too."""
        defaults = cls()
        p = argparse.ArgumentParser(prog="jobs.counters.main",
                                    description="The live-counters counting job.")
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            default = getattr(defaults, f.name)
            env_name = f.name.upper()
            if f.name == "bootstrap":
                raw = os.environ.get("KAFKA_BOOTSTRAP", _env(env_name, default))
            elif f.name == "cassandra_hosts":
                raw = os.environ.get("CASSANDRA_HOSTS", _env(env_name, ",".join(default)))
            else:
                raw = _env(env_name, str(default))
            p.add_argument(flag, default=raw, help=f"(default {raw!s})")
        a = vars(p.parse_args(argv))
        values = {}
        for f in fields(cls):
            v = a[f.name]
            default = getattr(defaults, f.name)
            if isinstance(default, int):
                values[f.name] = int(v)
            elif isinstance(default, tuple):
                values[f.name] = tuple(h.strip() for h in str(v).split(",") if h.strip())
            else:
                values[f.name] = str(v)
        s = cls(**values)
        if s.startup not in ("earliest", "latest"):
            p.error("--startup must be earliest or latest")
        if s.window_ms <= 0 or 86_400_000 % s.window_ms:
            p.error("--window-ms must divide a day (windows never straddle two days)")
        return s
