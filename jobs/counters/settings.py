"""The counting job's one settings object, built once in main.py from flags and environment.

Every setting is a flag (``--window-ms``), an environment variable
(``LIVE_COUNTERS_WINDOW_MS``) or its default, in that order; ``KAFKA_BOOTSTRAP`` and
``CASSANDRA_HOSTS`` are honoured too. A value that is not valid for its setting is a usage
error (exit status 2, the flag named), never a traceback.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from connectors.kafka_config import KafkaConfig


def _s(default, meaning: str):
    """A setting: its default and what it means (shown by ``--help``)."""
    return field(default=default, metadata={"help": meaning})


# environment variables honoured besides LIVE_COUNTERS_<NAME>, as other tools name them
_WELL_KNOWN_ENV = {"bootstrap": "KAFKA_BOOTSTRAP", "cassandra_hosts": "CASSANDRA_HOSTS"}


@dataclass(frozen=True)
class Settings:
    """Job concerns only; cluster concerns (checkpoint storage, state backend) are flink-conf/."""

    bootstrap: str = _s("127.0.0.1:9092", "Kafka bootstrap servers (host:port,...)")
    kafka_config: str = _s("", "Kafka client properties file (the Java format Kafka's tools "
                           "read with --command-config): security.protocol, sasl.*, ssl.* "
                           "for every Kafka client of the job (connectors/kafka_config.py)")
    likes_topic: str = _s("live.likes", "topic of like events")
    gifts_topic: str = _s("live.gifts", "topic of gift events")
    dlq_topic: str = _s("live.dlq", "dead-letter topic: invalid messages with their reason")
    group_id: str = _s("live-counters", "Kafka consumer group; offsets are committed on "
                       "checkpoints (also the prefix of the dead-letter transactions)")
    startup: str = _s("earliest", "where a new consumer group starts: earliest | latest "
                      "(a restored job resumes from its state)")
    cassandra_hosts: tuple[str, ...] = _s(("127.0.0.1",), "Cassandra contact points "
                                          "(host,host,...)")
    cassandra_port: int = _s(9042, "Cassandra native protocol port")
    keyspace: str = _s("live_counters", "keyspace of the counter tables")
    replication: str = _s("SimpleStrategy:replication_factor=1",
                          "replication of the keyspace provisioning creates, e.g. "
                          "NetworkTopologyStrategy:dc1=3")
    window_ms: int = _s(60_000, "time-series window of room_windows, in ms (must divide a day)")
    flush_ms: int = _s(500, "changed truths are emitted and written this often, in ms")
    dedup_horizon_ms: int = _s(2 * 3_600_000, "repeats of an event id within this time "
                               "(processing time, ms) are counted once")
    watermark_delay_ms: int = _s(5_000, "an event more than this behind the newest event "
                                 "time its decode subtask has read is late (counted all the "
                                 "same; the late_events metric), in ms")
    settle_ms: int = _s(6_000, "wait before trusting a re-read of rows in doubt, in ms (above "
                        "Cassandra's counter write timeout)")
    bundle_ms: int = _s(50, "Python bundle time, in ms: PyFlink holds a Python operator's "
                        "input until its bundle ends (or 1 MB of it collects), so this is a "
                        "floor under how soon counts are visible; longer drains a backlog "
                        "somewhat faster (docs/performance.md)")
    hold_ms: int = _s(30_000, "while behind (the newest event time the job has seen is more "
                      "than 5 s old: a backlog), truths wait in the hold in front of the "
                      "sink, the newest per counter row, and go to it in rounds of at most "
                      "this, and of a quarter of the lag, so a row that changes meanwhile "
                      "is written once a round; 0: never hold (docs/performance.md)")
    from_savepoint: str = _s("", "embedded runs: resume from this savepoint or retained "
                             "checkpoint directory (on a cluster: flink run -s PATH)")
    lease_wait_ms: int = _s(0, "how long the job's start waits for another running job to "
                            "give up the keyspace's writer lease before refusing to start (a "
                            "lease left by a job that died is always waited out, at most 30 s)")
    checkpoint_interval_ms: int = _s(0, "checkpoint interval in ms; 0: flink-conf/'s")
    parallelism: int = _s(0, "parallelism of the job; 0: the cluster's default")

    # --- derived values ------------------------------------------------------------------

    @property
    def kafka(self):
        """The Kafka client settings (``connectors.kafka_config.KafkaConfig``)."""

        return KafkaConfig.from_file(self.kafka_config)

    @property
    def replication_map(self) -> dict[str, str]:
        cls, _, opts = self.replication.partition(":")
        out = {"class": cls}
        for kv in filter(None, opts.split(",")):
            k, _, v = kv.partition("=")
            out[k] = v
        return out

    # --- parsing ---------------------------------------------------------------------------

    @staticmethod
    def env_name(name: str) -> str:
        return f"LIVE_COUNTERS_{name.upper()}"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser,
                      names: Iterable[str] | None = None) -> None:
        """Add a flag for each setting in ``names`` (all by default) to ``parser``; its help
        says what the setting means, its environment variable and its default."""
        wanted = set(names) if names is not None else None
        group = parser.add_argument_group("settings (flag, or environment variable)")
        for f in fields(cls):
            if wanted is not None and f.name not in wanted:
                continue
            default, env = f.default, cls.env_name(f.name)
            also = f" or {_WELL_KNOWN_ENV[f.name]}" if f.name in _WELL_KNOWN_ENV else ""
            group.add_argument("--" + f.name.replace("_", "-"), dest=f.name,
                               default=argparse.SUPPRESS, metavar=_metavar(f),
                               type=_converter(f),
                               help=f"{f.metadata['help']} [env {env}{also}; default "
                                    f"{_shown(default)}]")

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace,
                       parser: argparse.ArgumentParser) -> Settings:
        """Settings from parsed flags, the environment and the defaults, checked; an invalid
        value is a usage error from ``parser``."""
        values = {}
        for f in fields(cls):
            if f.name in vars(ns):
                values[f.name] = getattr(ns, f.name)
                continue
            raw = os.environ.get(cls.env_name(f.name))
            if raw is None and f.name in _WELL_KNOWN_ENV:
                raw = os.environ.get(_WELL_KNOWN_ENV[f.name])
            if raw is None:
                continue
            try:
                values[f.name] = _converter(f)(raw)
            except (argparse.ArgumentTypeError, ValueError) as exc:
                parser.error(f"environment variable {cls.env_name(f.name)}: {exc}")
        s = cls(**values)
        problem = s.problem()
        if problem:
            parser.error(problem)
        return s

    def problem(self) -> str | None:
        """What makes these settings unusable, or None."""
        if self.startup not in ("earliest", "latest"):
            return f"--startup must be earliest or latest, not {self.startup!r}"
        if self.window_ms <= 0 or 86_400_000 % self.window_ms:
            return (f"--window-ms {self.window_ms} must divide a day (86400000): a window "
                    "never straddles two days")
        for name in ("flush_ms", "settle_ms", "bundle_ms", "dedup_horizon_ms",
                     "watermark_delay_ms", "cassandra_port"):
            if getattr(self, name) <= 0:
                return f"--{name.replace('_', '-')} must be positive"
        for name in ("checkpoint_interval_ms", "parallelism", "lease_wait_ms", "hold_ms"):
            if getattr(self, name) < 0:
                return f"--{name.replace('_', '-')} must be 0 (the default) or more"
        if not self.cassandra_hosts:
            return "--cassandra-hosts names no host"
        if len({self.likes_topic, self.gifts_topic, self.dlq_topic}) < 3:
            return "--likes-topic, --gifts-topic and --dlq-topic must be three different topics"
        return None

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> Settings:
        """The job's command line: ``python -m jobs.counters.main --help``."""
        p = argparse.ArgumentParser(
            prog="jobs.counters.main",
            description="The live-counters counting job: likes and gifts from Kafka, counted "
                        "exactly once into Cassandra counter tables.",
            epilog="Embedded: python -m jobs.counters.main [flags]. On a cluster: "
                   "flink run -py jobs/counters/main.py [flags] (scripts/submit).")
        cls.add_arguments(p)
        return cls.from_namespace(p.parse_args(argv), p)

    def to_args(self) -> list[str]:
        """These settings as flags (every setting), for a job started from them."""
        out: list[str] = []
        for f in fields(self):
            v = getattr(self, f.name)
            out += ["--" + f.name.replace("_", "-"), ",".join(v) if isinstance(v, tuple)
                    else str(v)]
        return out


def _shown(default) -> str:
    return ",".join(default) if isinstance(default, tuple) else str(default)


def _metavar(f) -> str:
    d = f.default
    return "N" if isinstance(d, int) else "HOSTS" if isinstance(d, tuple) else "VALUE"


def _converter(f):
    d = f.default
    if isinstance(d, int):
        def to_int(raw: str) -> int:
            try:
                return int(str(raw).replace("_", ""))
            except ValueError:
                raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        to_int.__name__ = "whole number"
        return to_int
    if isinstance(d, tuple):
        def to_hosts(raw: str) -> tuple[str, ...]:
            return tuple(h.strip() for h in str(raw).split(",") if h.strip())
        return to_hosts
    return str
