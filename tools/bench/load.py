"""Seeded benchmark backlogs with their ground truth, fast enough for ten million events.

The counting tests' generator (``tools.workload``) decides message by message what the
job must do and spends ~20 us an event on it. A benchmark backlog needs the same kind of
truth for 10^7 events in about a minute, so here the random choices are drawn in numpy arrays
per chunk, the messages are encoded with the project's codec (fastavro), and the truth of every
counter row is summed with numpy/pandas group-bys instead of per event.

What a backlog holds (``Shape``): valid like (80%) and gift events over rooms 1..R with event
times spread over the last ``spread_ms``; a share of exact resends of earlier events (counted
once by the job, as duplicates) and a share of invalid ones (``count`` 0: dead-lettered). Room
distributions:

- ``zipf``: log-uniform, ``room = floor((R+1) ** u)`` with u uniform in [0, 1): P(room = k) is
  about 1 / (k ln R), room 1 gets ln 2 / ln(R+1) of the events (6% for R = 100,000);
- ``uniform``: every room alike;
- ``hot``: half of all events to room 1, the rest uniform;
- ``each``: rooms in turn, 1, 2, ..., R, 1, ...: every room alike and all of them present
  (the scale-of-state scenario).

The engine ceiling (``tools.bench.ceilings``) draws rooms with the same formulas in SQL.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from fastavro import schemaless_writer

from connectors.avro_codec import MAGIC, SchemaRegistry
from connectors.counter_rows import window_start
from connectors.events import gift_record, like_record
from jobs.counters.settings import Settings
from tools.workload import Expected

DISTRIBUTIONS = ("zipf", "uniform", "hot", "each")
GIFT_IDS = 12
UNIT_VALUES = np.array([1, 10, 100, 5200], dtype=np.int64)


@dataclass(frozen=True)
class Shape:
    events: int                   # messages in the backlog, resends and invalid ones included
    rooms: int = 100_000
    distribution: str = "zipf"
    seed: int = 1
    gift_share: float = 0.2
    dup_rate: float = 0.01        # exact resends of an earlier event: counted once
    invalid_rate: float = 0.001   # well-formed, count 0: dead-lettered
    spread_ms: int = 300_000      # event times within this much before "now"
    # the window size of the job that counts the backlog (produce_backlog sets the job's)
    window_ms: int = field(default_factory=lambda: Settings().window_ms)

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {DISTRIBUTIONS}")
        if self.events <= 0 or self.rooms <= 0:
            raise ValueError("events and rooms must be positive")


def draw_rooms(rng: np.random.Generator, n: int, rooms: int, distribution: str,
               offset: int = 0) -> np.ndarray:
    """``n`` room ids in 1..rooms (see the module docstring for the distributions);
    ``offset``: events drawn before (``each`` goes on where it stopped)."""
    if distribution == "each":
        return np.arange(offset, offset + n, dtype=np.int64) % rooms + 1
    if distribution == "zipf":
        r = np.floor(np.power(float(rooms + 1), rng.random(n))).astype(np.int64)
        return np.clip(r, 1, rooms)
    uniform = rng.integers(1, rooms + 1, n, dtype=np.int64)
    if distribution == "uniform":
        return uniform
    return np.where(rng.random(n) < 0.5, 1, uniform)


@dataclass
class Chunk:
    """One chunk of a backlog: messages in send order, keyed by room."""

    likes: list[tuple[bytes, bytes]]   # (key, value)
    gifts: list[tuple[bytes, bytes]]


@dataclass
class Truth:
    """The ground truth of a backlog, summed as it is generated."""

    counted: int = 0
    duplicates: int = 0
    invalid: int = 0
    messages: int = 0
    _totals: list[pd.DataFrame] | None = None
    _windows: list[pd.DataFrame] | None = None
    _gifts: list[pd.DataFrame] | None = None
    _dups: list[np.ndarray] | None = None

    def add_likes(self, rooms: np.ndarray, counts: np.ndarray, ts: np.ndarray,
                  window_ms: int) -> None:
        """Valid like events sent besides a backlog (the latency probes)."""
        if self._totals is None:
            self._totals, self._windows, self._gifts, self._dups = [], [], [], []
        n = len(rooms)
        zeros = np.zeros(n, dtype=np.int64)
        self._totals.append(pd.DataFrame({"room": rooms, "likes": counts, "gift_count": zeros,
                                          "gift_value": zeros,
                                          "events": np.ones(n, dtype=np.int64)}))
        self._windows.append(pd.DataFrame({"room": rooms, "likes": counts, "gift_count": zeros,
                                           "gift_value": zeros,
                                           "wstart": window_start(ts, window_ms)}))
        self.counted += n
        self.messages += n

    def expected(self) -> Expected:
        """Every counter row's expected value (``tools.workload.Expected``)."""
        exp = Expected()
        tot = (pd.concat(self._totals or []).groupby("room").sum()
               if self._totals else pd.DataFrame())
        dups = (np.bincount(np.concatenate(self._dups)) if self._dups else np.zeros(0, int))
        for room, r in zip(tot.index.tolist(), tot.itertuples(index=False), strict=True):
            exp.totals[room] = [int(r.likes), int(r.gift_count), int(r.gift_value),
                                int(r.events), 0]
        for room in np.nonzero(dups)[0].tolist():
            exp.totals[room][4] += int(dups[room])
        if self._windows:
            win = pd.concat(self._windows).groupby(["room", "wstart"]).sum()
            for (room, ws), r in zip(win.index.tolist(), win.itertuples(index=False),
                                     strict=True):
                exp.windows[(room, ws)] = [int(r.likes), int(r.gift_count), int(r.gift_value)]
        if self._gifts:
            gif = pd.concat(self._gifts).groupby(["room", "gift_id"]).sum()
            for (room, gid), r in zip(gif.index.tolist(), gif.itertuples(index=False),
                                      strict=True):
                exp.gifts[(room, gid)] = [int(r.gift_count), int(r.gift_value)]
        return exp


def chunks(shape: Shape, now_ms: int, truth: Truth, chunk: int = 100_000) -> Iterator[Chunk]:
    """The backlog of ``shape``, ``chunk`` messages at a time, summing ``truth`` as it goes.

    Deterministic for a seed and ``now_ms``."""
    reg = SchemaRegistry()
    like_s, gift_s = reg.schema("LikeEvent"), reg.schema("GiftEvent")
    like_head, gift_head = MAGIC + like_s.fingerprint, MAGIC + gift_s.fingerprint
    rng = np.random.default_rng(shape.seed)
    if truth._totals is None:  # a truth may sum several backlogs (a live stream's ticks)
        truth._totals, truth._windows, truth._gifts, truth._dups = [], [], [], []
    recent: list[tuple[bool, bytes, bytes, int]] = []  # resend candidates: (like, key, value, room)
    done = 0
    while done < shape.events:
        n = min(chunk, shape.events - done)
        room = draw_rooms(rng, n, shape.rooms, shape.distribution, done)
        is_like = rng.random(n) >= shape.gift_share
        fate = rng.random(n)
        is_dup = fate < shape.dup_rate
        is_bad = (fate >= shape.dup_rate) & (fate < shape.dup_rate + shape.invalid_rate)
        count = rng.integers(1, 21, n, dtype=np.int64)
        count[is_bad] = 0
        gift_id = rng.integers(1, GIFT_IDS + 1, n, dtype=np.int64)
        quantity = rng.integers(1, 6, n, dtype=np.int64)
        unit = UNIT_VALUES[rng.integers(0, len(UNIT_VALUES), n)]
        ts = now_ms - rng.integers(0, shape.spread_ms, n, dtype=np.int64)
        user = rng.integers(0, 1_000_000, n, dtype=np.int64)
        pick = rng.random(n)

        likes: list[tuple[bytes, bytes]] = []
        gifts: list[tuple[bytes, bytes]] = []
        dup_rooms: list[int] = []
        buf = io.BytesIO()
        for i in range(n):
            if is_dup[i] and not recent:
                is_dup[i] = False  # nothing sent yet to send again: a fresh event instead
            if is_dup[i]:
                like, key, value, r = recent[int(pick[i] * len(recent))]
                (likes if like else gifts).append((key, value))
                dup_rooms.append(r)
                continue
            r = int(room[i])
            buf.seek(0)
            buf.truncate()
            eid = f"{shape.seed}-{done + i}"
            if is_like[i]:
                buf.write(like_head)
                schemaless_writer(buf, like_s.parsed, like_record(
                    eid, r, int(user[i]), int(count[i]), int(ts[i])))
            else:
                # an invalid gift: quantity 0 (the same "count 0" rule, in the gift's field)
                buf.write(gift_head)
                schemaless_writer(buf, gift_s.parsed, gift_record(
                    eid, r, int(user[i]), int(gift_id[i]), 0 if is_bad[i] else int(quantity[i]),
                    int(unit[i]), int(ts[i])))
            key, value = str(r).encode(), buf.getvalue()
            (likes if is_like[i] else gifts).append((key, value))
            if not is_bad[i] and (len(recent) < 10_000 or pick[i] < 0.01):
                entry = (bool(is_like[i]), key, value, r)
                if len(recent) < 10_000:
                    recent.append(entry)
                else:
                    recent[int(pick[i] * 1e6) % len(recent)] = entry
        ok = ~is_dup & ~is_bad
        lk, gf = ok & is_like, ok & ~is_like
        value = np.where(gf, quantity * unit, 0)
        frame = pd.DataFrame({
            "room": room[ok], "likes": np.where(lk, count, 0)[ok],
            "gift_count": np.where(gf, quantity, 0)[ok], "gift_value": value[ok],
            "events": np.ones(int(ok.sum()), dtype=np.int64)})
        truth._totals.append(frame.groupby("room").sum().reset_index())
        wf = frame.drop(columns=["events"]).assign(
            wstart=window_start(ts, shape.window_ms)[ok])
        truth._windows.append(wf.groupby(["room", "wstart"]).sum().reset_index())
        gframe = pd.DataFrame({"room": room[gf], "gift_id": gift_id[gf],
                               "gift_count": quantity[gf], "gift_value": value[gf]})
        truth._gifts.append(gframe.groupby(["room", "gift_id"]).sum().reset_index())
        if dup_rooms:
            truth._dups.append(np.array(dup_rooms, dtype=np.int64))
        truth.counted += int(ok.sum())
        truth.duplicates += len(dup_rooms)
        truth.invalid += int(is_bad.sum())
        truth.messages += len(likes) + len(gifts)
        done += n
        yield Chunk(likes, gifts)


def produce(shape: Shape, bootstrap: str, likes_topic: str, gifts_topic: str, now_ms: int,
            progress: Callable[[int, float], None] | None = None) -> Truth:
    """Generate the backlog of ``shape`` and send it to Kafka (confluent-kafka: librdkafka
    sends millions of messages a second, the backlog is not the thing measured here).

    Idempotent producer, ``acks=all``; raises if any message was not acknowledged. Returns the
    ground truth. ``progress(messages_sent, seconds)`` is called after each chunk."""
    from confluent_kafka import Producer

    errors: list[str] = []

    def on_delivery(err, _msg) -> None:
        if err is not None and len(errors) < 10:
            errors.append(str(err))

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 50, "batch.size": 1_000_000,
                  "queue.buffering.max.messages": 2_000_000,
                  "queue.buffering.max.kbytes": 1_048_576})
    truth = Truth()
    t0 = time.monotonic()
    sent = 0
    for c in chunks(shape, now_ms, truth):
        for topic, msgs in ((likes_topic, c.likes), (gifts_topic, c.gifts)):
            for key, value in msgs:
                while True:
                    try:
                        p.produce(topic, value, key, on_delivery=on_delivery)
                        break
                    except BufferError:
                        p.poll(0.05)
            p.poll(0)
        sent += len(c.likes) + len(c.gifts)
        if progress:
            progress(sent, time.monotonic() - t0)
    left = p.flush(600)
    if left or errors:
        raise RuntimeError(f"backlog not fully acknowledged: {left} unsent, errors: {errors}")
    return truth
