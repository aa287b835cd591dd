"""The truth hold's policy (``aggregate/hold.HoldPolicy``) and the JVM's (``HoldPolicy.java``,
run by ``TruthHold`` in front of the sink), held to it by the same scripts."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from jobs.counters.aggregate.hold import BEHIND_MS, HoldPolicy
from jobs.runtime import job_jar

pytestmark = pytest.mark.unit

NOW = 1_763_700_000_000


def run_script(policy: HoldPolicy, script: list[tuple]) -> list[str]:
    """The actions for ``script`` ((\"offer\", now, max_ts) or (\"tick\", now)); whether truths
    are held follows from the actions, as in TruthHold."""
    holding, out = False, []
    for op in script:
        if op[0] == "offer":
            action = policy.offer(op[1], op[2], holding)
            if action == HoldPolicy.RELEASE_AND_PASS:
                policy.released(op[1])
            holding = action == HoldPolicy.HOLD
            out.append(action)
        elif policy.release_due(op[1], holding):
            policy.released(op[1])
            holding = False
            out.append("release")
        else:
            out.append("wait")
    return out


def test_live_truths_pass_at_once():
    p = HoldPolicy(hold_ms=30_000)
    assert run_script(p, [("offer", NOW, NOW - 100), ("offer", NOW + 10, NOW - BEHIND_MS),
                          ("tick", NOW + 100)]) == ["pass", "pass", "wait"]


def test_a_backlog_is_held_and_released_in_rounds_of_a_quarter_of_the_lag():
    p = HoldPolicy(hold_ms=30_000)
    lag = 60_000  # a minute behind, the newest event time moving with the clock: 15 s rounds
    script = [("offer", NOW, NOW - lag), ("offer", NOW + 14_900, NOW + 14_900 - lag),
              ("tick", NOW + 14_950), ("offer", NOW + 15_000, NOW + 15_000 - lag),
              ("tick", NOW + 15_000), ("offer", NOW + 15_100, NOW + 15_100 - lag),
              ("tick", NOW + 35_000), ("tick", NOW + 35_100)]  # lag grows: no new truth
    assert run_script(p, script) == ["hold", "hold", "wait", "hold", "release", "hold", "wait",
                                     "release"]


def test_rounds_are_at_most_hold_ms():
    p = HoldPolicy(hold_ms=10_000)
    lag = 3_600_000
    assert run_script(p, [("offer", NOW, NOW - lag), ("tick", NOW + 9_999),
                          ("tick", NOW + 10_000)]) == ["hold", "wait", "release"]


def test_a_truth_arriving_live_again_releases_everything_held():
    p = HoldPolicy(hold_ms=30_000)
    assert run_script(p, [("offer", NOW, NOW - 60_000), ("offer", NOW + 1, NOW - 10),
                          ("offer", NOW + 2, NOW - 10)]) == ["hold", "release+pass", "pass"]


def test_held_truths_go_once_live_even_without_a_new_truth():
    p = HoldPolicy(hold_ms=30_000)
    p.offer(NOW, NOW - 60_000, holding=False)
    p.newest = NOW  # a newer event seen meanwhile
    assert p.release_due(NOW + 100, holding=True)


def test_hold_ms_0_never_holds():
    p = HoldPolicy(hold_ms=0)
    assert run_script(p, [("offer", NOW, NOW - 3_600_000), ("tick", NOW + 1)]) == [
        "pass", "wait"]


def test_truths_restored_held_start_a_round_at_the_first_tick():
    p = HoldPolicy(hold_ms=30_000)  # a new attempt: nothing seen yet, truths restored held
    assert p.release_due(NOW, holding=True)  # not behind as far as it knows: release


def _random_script(rnd: random.Random) -> list[tuple]:
    """Live stretches, backlogs of seconds to hours, catching up, clocks ahead, idle gaps."""
    now, script = NOW, []
    lag = 0
    for _ in range(400):
        r = rnd.random()
        if r < 0.05:
            lag = rnd.choice([0, 100, BEHIND_MS - 1, BEHIND_MS, BEHIND_MS + 1, 20_000, 60_000,
                              600_000, 7_200_000, -5_000])
        elif r < 0.15:
            lag = max(lag - rnd.randint(0, 20_000), -10_000)  # catching up
        now += rnd.choice([0, 1, 50, 100, 100, 100, 1_000, 2_500, 15_000])
        if rnd.random() < 0.6:
            script.append(("offer", now, now - lag - rnd.choice([0, 0, 10, 90_000])))
        else:
            script.append(("tick", now))
    return script


def _jvm(hold_ms: int, script: list[tuple], tmp_path: Path) -> list[str]:
    java = Path(os.environ.get("JAVA_HOME", "/usr")) / "bin" / "java"
    lines = "".join(" ".join(map(str, op)) + "\n" for op in script)
    done = subprocess.run([str(java) if java.exists() else "java", "-cp", str(job_jar()),
                           "livecounters.HoldScript", str(hold_ms), str(BEHIND_MS)],
                          input=lines, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


@pytest.mark.parametrize("hold_ms", [0, 1_000, 10_000, 30_000])
def test_the_jvm_policy_acts_as_its_specification(hold_ms, tmp_path):
    rnd = random.Random(hold_ms + 7)
    script = [op for _ in range(20) for op in _random_script(rnd)]
    want = run_script(HoldPolicy(hold_ms), script)
    got = _jvm(hold_ms, script, tmp_path)
    assert len(got) == len(want) == len(script)
    diffs = [f"step {i} {script[i]}: specification {w}, JVM {g}"
             for i, (w, g) in enumerate(zip(want, got, strict=True)) if w != g]
    assert not diffs, f"{len(diffs)} of {len(script)} differ:\n" + "\n".join(diffs[:10])
    if hold_ms:  # the scripts reach every action
        assert {"pass", "hold", "release+pass", "release", "wait"} <= set(want)
