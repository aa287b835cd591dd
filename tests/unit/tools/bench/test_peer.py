"""The Python peers' pure parts: decoding, the merge of counter deltas (kafka-python peer) and
the window results turned into deltas (Quix peer), as tables and against the workload oracle."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from connectors.avro_codec import SchemaRegistry
from connectors.counter_rows import DUPLICATE, GIFTS, TOTALS, WINDOWS, window_start
from connectors.events import GIFT, LIKE, Event, Invalid, read_event
from tools.bench.peer import (
    Aggregate,
    CounterWriter,
    PeerResult,
    add_delta,
)
from tools.bench.quix_peer import (
    SUMS,
    WindowDeltas,
    as_repeat,
    event_value,
    gifts_add,
    gifts_init,
)
from tools.verify import Snapshot, compare
from tools.workload import generate

pytestmark = pytest.mark.unit

NOW = 1_763_700_000_000
MIN = 60_000
W0 = window_start(NOW, MIN)
REG = SchemaRegistry()


def like(eid: str, room: int = 5, count: int = 3, ts: int = NOW) -> Event:
    return Event(LIKE, eid, room, 1, 0, count, 0, 0, ts)


def gift(eid: str, room: int = 5, gift_id: int = 7, qty: int = 2, unit: int = 100,
         ts: int = NOW) -> Event:
    return Event(GIFT, eid, room, 1, gift_id, 0, qty, qty * unit, ts)


@pytest.mark.parametrize(("events", "deltas", "counted", "duplicates"), [
    ([], {}, 0, 0),
    ([like("a"), like("b", count=4)],
     {(TOTALS, 5, 0): [7, 0, 0, 2, 0], (WINDOWS, 5, W0): [7, 0, 0]}, 2, 0),
    ([like("a"), like("a"), like("a")],                       # repeats: duplicates only
     {(TOTALS, 5, 0): [3, 0, 0, 1, 2], (WINDOWS, 5, W0): [3, 0, 0]}, 1, 2),
    ([like("x"), gift("x")],                                   # same id, other kind: counted
     {(TOTALS, 5, 0): [3, 2, 200, 2, 0], (WINDOWS, 5, W0): [3, 2, 200],
      (GIFTS, 5, 7): [2, 200]}, 2, 0),
    ([gift("a", gift_id=1), gift("b", gift_id=2, qty=1, unit=10), gift("c", gift_id=1)],
     {(TOTALS, 5, 0): [0, 5, 410, 3, 0], (WINDOWS, 5, W0): [0, 5, 410],
      (GIFTS, 5, 1): [4, 400], (GIFTS, 5, 2): [1, 10]}, 3, 0),
    ([like("a", room=1), like("b", room=2, ts=NOW - MIN)],
     {(TOTALS, 1, 0): [3, 0, 0, 1, 0], (WINDOWS, 1, W0): [3, 0, 0],
      (TOTALS, 2, 0): [3, 0, 0, 1, 0], (WINDOWS, 2, W0 - MIN): [3, 0, 0]}, 2, 0),
])
def test_aggregate_merges_deltas(events, deltas, counted, duplicates):
    agg = Aggregate(MIN)
    firsts = [agg.add(e) for e in events]
    assert agg.drain() == deltas
    assert (agg.counted, agg.duplicates) == (counted, duplicates)
    assert firsts.count(True) == counted
    assert agg.drain() == {}


def test_aggregate_remembers_ids_across_drains():
    agg = Aggregate(MIN)
    agg.add(like("a"))
    agg.drain()
    assert agg.add(like("a")) is False
    assert agg.drain() == {(TOTALS, 5, 0): list(DUPLICATE)}


@pytest.mark.parametrize(("start", "add", "result"), [
    ({}, [1, 2], {(TOTALS, 1, 0): [1, 2]}),
    ({(TOTALS, 1, 0): [1, 2]}, [3, 4], {(TOTALS, 1, 0): [4, 6]}),
])
def test_add_delta(start, add, result):
    deltas = {k: list(v) for k, v in start.items()}
    add_delta(deltas, (TOTALS, 1, 0), add)
    assert deltas == result


def window(start: int, likes=0, gc=0, gv=0, events=0, dups=0, gifts=None) -> dict:
    return {"start": start, "end": start + MIN, "likes": likes, "gift_count": gc,
            "gift_value": gv, "events": events, "duplicates": dups, "gifts": gifts or {}}


@pytest.mark.parametrize(("written", "latest", "deltas"), [
    ({}, {(5, W0): window(W0, likes=3, events=1)},
     {(TOTALS, 5, 0): [3, 0, 0, 1, 0], (WINDOWS, 5, W0): [3, 0, 0]}),
    ({(5, W0): window(W0, likes=3, events=1)}, {(5, W0): window(W0, likes=5, events=2)},
     {(TOTALS, 5, 0): [2, 0, 0, 1, 0], (WINDOWS, 5, W0): [2, 0, 0]}),
    ({(5, W0): window(W0, likes=3, events=1)},                # only a repeat since: totals
     {(5, W0): window(W0, likes=3, events=1, dups=1)}, {(TOTALS, 5, 0): [0, 0, 0, 0, 1]}),
    ({(5, W0): window(W0, gc=2, gv=200, events=1, gifts={"7": [2, 200]})},
     {(5, W0): window(W0, gc=3, gv=300, events=2, gifts={"7": [2, 200], "8": [1, 100]})},
     {(TOTALS, 5, 0): [0, 1, 100, 1, 0], (WINDOWS, 5, W0): [0, 1, 100],
      (GIFTS, 5, 8): [1, 100]}),
    ({}, {(5, W0): window(W0, likes=1, events=1),             # two windows of one room
          (5, W0 - MIN): window(W0 - MIN, gc=1, gv=5, events=1, gifts={"2": [1, 5]})},
     {(TOTALS, 5, 0): [1, 1, 5, 2, 0], (WINDOWS, 5, W0): [1, 0, 0],
      (WINDOWS, 5, W0 - MIN): [0, 1, 5], (GIFTS, 5, 2): [1, 5]}),
    ({(5, W0): window(W0, likes=3, events=1)}, {(5, W0): window(W0, likes=3, events=1)}, {}),
])
def test_window_deltas(written, latest, deltas):
    wd = WindowDeltas(latest={}, written=dict(written))
    for (room, start), result in latest.items():
        wd.update(room, start, result)
    assert wd.drain() == deltas
    assert wd.drain() == {}
    assert all(wd.written[k] == {c: v[c] for c in (*SUMS, "gifts")} for k, v in latest.items())


@pytest.mark.parametrize(("values", "gifts"), [
    ([{"gift_id": 7, "gift_count": 2, "gift_value": 200}], {"7": [2, 200]}),
    ([{"gift_id": 7, "gift_count": 2, "gift_value": 200},
      {"gift_id": 0, "gift_count": 0, "gift_value": 0},              # a like or a repeat
      {"gift_id": 7, "gift_count": 1, "gift_value": 5}], {"7": [3, 205]}),
    ([{"gift_id": 0, "gift_count": 0, "gift_value": 0}], {}),
])
def test_gift_reduce(values, gifts):
    acc = gifts_init(values[0])
    for v in values[1:]:
        acc = gifts_add(acc, v)
    assert acc == gifts


def test_repeat_adds_one_duplicate_only():
    v = as_repeat(event_value(GIFT, "g", 5, 7, 0, 2, 200, NOW))
    assert {k: v[k] for k in ("likes", "gift_count", "gift_value", "events", "duplicates",
                              "gift_id")} == {"likes": 0, "gift_count": 0, "gift_value": 0,
                                              "events": 0, "duplicates": 1, "gift_id": 0}


def snapshot_of(deltas) -> Snapshot:
    s = Snapshot()
    for (table, room, sub), values in deltas.items():
        if table == TOTALS:
            s.totals[room] = list(values)
        elif table == WINDOWS:
            s.windows[(room, sub)] = list(values)
        else:
            s.gifts[(room, sub)] = list(values)
    return s


def events_of(wl) -> list[Event | Invalid]:
    return [read_event(REG, m.value, m.topic_kind, m.topic_kind, NOW) for m in wl.messages]


def merge_all(parts: list[dict]) -> dict:
    total: dict = {}
    for part in parts:
        for row, values in part.items():
            add_delta(total, row, values)
    return total


@pytest.mark.parametrize("seed", [1, 2])
def test_kafka_python_aggregation_equals_the_oracle(seed):
    """Decode + Aggregate over a whole workload, drained at random points, sums to exactly
    what the workload expects in every row (late events, repeats and bad messages included)."""
    wl = generate(seed, 2_000, 40, NOW)
    rnd = random.Random(seed)
    agg, parts, invalid = Aggregate(MIN), [], 0
    for event in events_of(wl):
        if isinstance(event, Invalid):
            invalid += 1
        else:
            agg.add(event)
        if rnd.random() < 0.01:
            parts.append(agg.drain())
    parts.append(agg.drain())
    report = compare(wl.expected, snapshot_of(merge_all(parts)))
    assert report.exact, report.rows_wrong[:5]
    assert (agg.counted, agg.duplicates, invalid) == (wl.counted, wl.duplicates, wl.invalid)


@pytest.mark.parametrize("seed", [1, 2])
def test_quix_window_deltas_equal_the_oracle(seed):
    """The Quix peer's path without Quix: running window results per (room, window), as
    ``.current()`` emits them, drained at random checkpoints, sum to the expected rows."""
    wl = generate(seed, 2_000, 40, NOW)
    rnd = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    windows: dict[tuple[int, int], dict] = {}
    wd, parts = WindowDeltas(), []
    for event in events_of(wl):
        if isinstance(event, Invalid):
            continue
        value = event_value(event.kind, event.event_id, event.room_id, event.gift_id,
                            event.likes, event.gift_count, event.gift_value, event.ts)
        if (event.kind, event.event_id) in seen:
            value = as_repeat(value)
        seen.add((event.kind, event.event_id))
        start = window_start(event.ts, MIN)
        w = windows.setdefault((event.room_id, start), window(start))
        for c in ("likes", "gift_count", "gift_value", "events", "duplicates"):
            w[c] += value[c]
        w["gifts"] = gifts_add({k: list(v) for k, v in w["gifts"].items()}, value)
        wd.update(event.room_id, start, dict(w))
        if rnd.random() < 0.01:
            parts.append(wd.drain())
    parts.append(wd.drain())
    report = compare(wl.expected, snapshot_of(merge_all(parts)))
    assert report.exact, report.rows_wrong[:5]


class _Session:
    def prepare(self, cql: str) -> _Stmt:
        return _Stmt(cql)

    def execution_profile_clone_update(self, name, **changes):
        return changes


class _Stmt:
    def __init__(self, cql: str) -> None:
        self.cql = cql
        self.consistency_level = None


def test_writer_binds_values_in_the_statements_order():
    writer = CounterWriter(_Session(), "ks")
    stmts = list(writer._statements({
        (TOTALS, 5, 0): [1, 2, 3, 4, 5],
        (WINDOWS, 5, W0): [1, 2, 3],
        (GIFTS, 5, 7): [2, 200],
    }))
    assert [s.cql.split()[1] for s, _ in stmts] == ["ks.room_totals", "ks.room_windows",
                                                   "ks.room_gifts"]
    assert "likes = likes + ?, gift_count = gift_count + ?" in stmts[0][0].cql
    assert stmts[0][1] == (1, 2, 3, 4, 5, 5)
    day = dt.date(1970, 1, 1) + dt.timedelta(days=W0 // 86_400_000)
    assert stmts[1][1] == (1, 2, 3, 5, day, dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
                           + dt.timedelta(milliseconds=W0))
    assert stmts[2][1] == (2, 200, 5, 7)
    assert all(s.consistency_level is not None for s, _ in stmts)


@pytest.mark.parametrize(("messages", "seconds", "rate"), [
    (1_000, 2.0, 500.0), (0, 0.0, 0.0), (10, 0.0, 0.0)])
def test_events_per_s(messages, seconds, rate):
    r = PeerResult("p", messages, 0, 0, 0, 0, seconds)
    assert r.events_per_s == rate
    assert r.as_dict()["events_per_s"] == rate


def test_quix_venv_that_cannot_be_installed_is_none_with_the_reason(tmp_path, monkeypatch, caplog):
    import subprocess

    from tools.bench import quix_venv

    def failing_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(quix_venv.subprocess, "run", failing_run)
    assert quix_venv.ensure_quix_venv(tmp_path) is None
    assert "No matching distribution" in caplog.text
