"""The benchmark backlogs' truth, summed with numpy/pandas, against a per-message recount
that decodes every message sent (the job's own decoder and validation)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from connectors.avro_codec import SchemaRegistry
from connectors.events import Invalid, validate
from tools.bench.load import Shape, Truth, chunks, draw_rooms

pytestmark = pytest.mark.unit

NOW = 1_790_000_000_000


def recount(shape: Shape) -> tuple[Truth, dict, dict, dict, int, int]:
    reg = SchemaRegistry()
    truth = Truth()
    totals: dict = defaultdict(lambda: [0] * 5)
    windows: dict = defaultdict(lambda: [0] * 3)
    gifts: dict = defaultdict(lambda: [0] * 2)
    seen: set = set()
    invalid = messages = 0
    for c in chunks(shape, NOW, truth, chunk=3_000):
        for value in [v for _, v in c.likes] + [v for _, v in c.gifts]:
            messages += 1
            name, rec = reg.decode(value)
            ev = validate(name, rec, NOW)
            if isinstance(ev, Invalid):
                invalid += 1
                continue
            if (ev.kind, ev.event_id) in seen:
                totals[ev.room_id][4] += 1
                continue
            seen.add((ev.kind, ev.event_id))
            t = totals[ev.room_id]
            w = windows[(ev.room_id, ev.ts - ev.ts % shape.window_ms)]
            for i, v in enumerate((ev.likes, ev.gift_count, ev.gift_value)):
                t[i] += v
                w[i] += v
            t[3] += 1
            if ev.kind == "gift":
                g = gifts[(ev.room_id, ev.gift_id)]
                g[0] += ev.gift_count
                g[1] += ev.gift_value
    return truth, dict(totals), dict(windows), dict(gifts), invalid, messages


@pytest.mark.parametrize("distribution", ["zipf", "uniform", "hot", "each"])
def test_truth_matches_a_recount_of_every_message(distribution):
    shape = Shape(10_000, rooms=300, distribution=distribution, seed=7, dup_rate=0.05,
                  invalid_rate=0.02)
    truth, totals, windows, gifts, invalid, messages = recount(shape)
    exp = truth.expected()
    assert messages == truth.messages == shape.events
    assert invalid == truth.invalid > 0
    assert truth.duplicates > 0
    assert {k: list(v) for k, v in exp.totals.items()} == totals
    assert {k: list(v) for k, v in exp.windows.items()} == windows
    assert {k: list(v) for k, v in exp.gifts.items()} == gifts
    assert truth.counted == sum(t[3] for t in totals.values())


def test_room_distributions():
    rng = np.random.default_rng(1)
    z = draw_rooms(rng, 200_000, 1_000, "zipf")
    assert z.min() >= 1 and z.max() <= 1_000
    assert abs((z == 1).mean() - np.log(2) / np.log(1_001)) < 0.01  # ln 2 / ln(R+1)
    h = draw_rooms(rng, 200_000, 1_000, "hot")
    assert abs((h == 1).mean() - 0.5) < 0.01
    e = draw_rooms(rng, 2_500, 1_000, "each", offset=10)
    assert e[0] == 11 and np.bincount(e).max() == 3 and len(set(e.tolist())) == 1_000
