"""Compare the counter tables with a workload's ground truth, row by row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from jobs.counters.workload import Expected

_EPOCH = dt.datetime(1970, 1, 1)


def _ms(t: dt.datetime) -> int:
    return (t.replace(tzinfo=None) - _EPOCH) // dt.timedelta(milliseconds=1)


@dataclass
class Snapshot:
    totals: dict[int, list[int]] = field(default_factory=dict)
    windows: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    gifts: dict[tuple[int, int], list[int]] = field(default_factory=dict)


def snapshot(session, keyspace: str) -> Snapshot:
    """Every row of the three counter tables (a full scan: for test-sized keyspaces)."""
    s = Snapshot()
    for r in session.execute(f"SELECT room_id, likes, gift_count, gift_value, events, duplicates "
                             f"FROM {keyspace}.room_totals"):
        s.totals[r.room_id] = [r.likes or 0, r.gift_count or 0, r.gift_value or 0,
                               r.events or 0, r.duplicates or 0]
    for r in session.execute(f"SELECT room_id, window_start, likes, gift_count, gift_value "
                             f"FROM {keyspace}.room_windows"):
        s.windows[(r.room_id, _ms(r.window_start))] = [r.likes or 0, r.gift_count or 0,
                                                       r.gift_value or 0]
    for r in session.execute(f"SELECT room_id, gift_id, gift_count, gift_value "
                             f"FROM {keyspace}.room_gifts"):
        s.gifts[(r.room_id, r.gift_id)] = [r.gift_count or 0, r.gift_value or 0]
    return s


@dataclass
class Report:
    rooms_checked: int
    rows_checked: int
    rows_wrong: list[str]
    rooms_wrong: int
    events_lost: int          # counted events missing from room_totals.events
    events_double_counted: int

    @property
    def exact(self) -> bool:
        return not self.rows_wrong

    def summary(self) -> str:
        return (f"rooms checked {self.rooms_checked}, rows checked {self.rows_checked}, "
                f"rooms wrong {self.rooms_wrong}, rows wrong {len(self.rows_wrong)}, "
                f"events lost {self.events_lost}, double-counted {self.events_double_counted}")


def compare(expected: Expected, actual: Snapshot) -> Report:
    wrong: list[str] = []
    rooms_wrong: set[int] = set()
    lost = double = 0

    def check(name: str, exp: dict, act: dict, width: int) -> int:
        nonlocal lost, double
        keys = set(exp) | {k for k, v in act.items() if any(v)}
        for k in sorted(keys, key=str):
            e, a = list(exp.get(k, [0] * width)), act.get(k, [0] * width)
            if e != a:
                wrong.append(f"{name}{k}: expected {e}, got {a}")
                rooms_wrong.add(k if isinstance(k, int) else k[0])
                if name == "room_totals":
                    lost += max(0, e[3] - a[3])
                    double += max(0, a[3] - e[3])
        return len(keys)

    rows = check("room_totals", expected.totals, actual.totals, 5)
    rows += check("room_windows", expected.windows, actual.windows, 3)
    rows += check("room_gifts", expected.gifts, actual.gifts, 2)
    return Report(len(expected.totals), rows, wrong, len(rooms_wrong), lost, double)
