"""The workload's oracle agrees, message by message, with what the job's decode and
validation do (the oracle is written apart from them; a disagreement is a bug in one)."""

from __future__ import annotations

import time

import pytest

from connectors.avro_codec import DecodeError, SchemaRegistry
from connectors.events import Invalid, validate
from tools.workload import HOUR, generate

pytestmark = pytest.mark.unit


def verdicts(wl, now_ms):
    reg = SchemaRegistry()
    bad = []
    for m in wl.messages:
        try:
            name, rec = reg.decode(m.value)
            ok = not isinstance(validate(name, rec, now_ms), Invalid)
        except DecodeError:
            ok = False
        if not ok:
            bad.append(m.value)
    return bad


def test_poison_block_every_bad_message_is_dead_lettered_and_no_good_one():
    now = int(time.time() * 1000)
    wl = generate(11, 3_000, 50, now, poison=True)
    assert verdicts(wl, now) == wl.expected.dead_letters
    sizes = sorted(len(v or b"") for v in wl.expected.dead_letters)
    assert sizes[-1] > 1_000_000 and sizes[-2] > 1_000_000     # the two >1 MB messages
    assert None in wl.expected.dead_letters                      # a null value
    assert wl.invalid == len(wl.expected.dead_letters) > 60
    assert wl.counted > 3_000 * 0.9 and wl.duplicates >= 4


def test_skewed_producer_events_are_an_hour_behind_and_counted():
    now = int(time.time() * 1000)
    wl = generate(5, 2_000, 20, now, skew_share=0.5)
    assert 700 < wl.skewed < 1_300
    assert verdicts(wl, now) == wl.expected.dead_letters
    windows = {ws for (_, ws) in wl.expected.windows}
    assert any(ws <= now - HOUR for ws in windows) and any(ws > now - 60_000 for ws in windows)


def test_on_time_events_carry_the_time_they_are_due_to_be_sent():
    now = int(time.time() * 1000)
    reg = SchemaRegistry()
    wl = generate(5, 2_000, 50, now, span_ms=200_000, dup_rate=0, late_rate=0,
                  malformed_rate=0, invalid_rate=0)
    ts = [reg.decode(m.value)[1]["ts"] for m in wl.messages]
    # event i is due at now + i * 100 ms and stamped up to 5 s before that
    assert all(now + i * 100 - 5_000 <= t <= now + i * 100 for i, t in enumerate(ts))
    assert ts[-1] > now + 190_000
    assert wl.counted == 2_000
