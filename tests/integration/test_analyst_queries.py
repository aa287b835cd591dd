"""Every CQL query of docs/analysts.md "For analysts", run as written against the real Cassandra
after the job counted a workload, returns what the workload's oracle says. Only the literals a
run cannot share with the page change: the keyspace (each run has its own), and the day and hour
(the job judges an event's time against its Kafka timestamp, the wall clock of the run, so a
workload dated on the page's day would turn its "two hours ahead" invalid events valid)."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.paths import REPO_ROOT, StackPaths
from tests.counting import JobNames, produce, provision_for, wait_until_exact
from tools.workload import generate

pytestmark = pytest.mark.integration

UTC = dt.UTC
ANALYSTS_PAGE = REPO_ROOT / "docs" / "analysts.md"


def analyst_queries(page: Path = ANALYSTS_PAGE) -> list[str]:
    """The statements of the SQL blocks in the page's "For analysts" section, the text from its
    heading to the next heading of the same or a higher level (comments dropped)."""
    text = page.read_text()
    head, rest = text.split("# For analysts", 1)
    hashes = "#" * (len(head) - len(head.rstrip("#")) + 1)
    section = re.split(rf"\n#{{1,{len(hashes)}}} ", rest, maxsplit=1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    text = "\n".join(line for block in blocks for line in block.splitlines()
                     if not line.lstrip().startswith("--"))
    return [q.strip() for q in text.split(";") if q.strip()]


def test_the_analysts_page_has_the_queries_this_test_checks():
    assert [q.split("FROM")[1].split()[0] for q in analyst_queries()] == [
        "live_counters.room_totals", "live_counters.room_windows", "live_counters.room_gifts"]


def test_every_analyst_query_returns_what_the_oracle_says(kafka_bootstrap, cassandra_hosts):
    from local_stack.cassandra import connect

    now = dt.datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = max(midnight, now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1))
    day = now.date().isoformat()
    queries = [re.sub(r"window_start >= '[^']+'",
                      f"window_start >= '{since:%Y-%m-%d %H:%M:%S%z}'",
                      re.sub(r"day = '[\d-]+'", f"day = '{day}'", q))
               for q in analyst_queries()]
    room = int(re.search(r"room_id = (\d+)", queries[0]).group(1))
    # the page's room among few rooms, so it has windows since the hour and gifts
    wl = generate(20261207, events=20_000, rooms=60, now_ms=int(now.timestamp() * 1000))
    names = JobNames.fresh()
    s = provision_for(names, kafka_bootstrap, cassandra_hosts)
    produce(s, wl)
    log = StackPaths.from_env().logs / f"counters-{names.suffix}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        job = subprocess.Popen([sys.executable, "-m", "jobs.counters.main",
                                *names.args(kafka_bootstrap, cassandra_hosts)],
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        report = wait_until_exact(s, wl, timeout_s=300, alive=lambda: job.poll() is None)
        assert report.exact, report.summary()
        want = wl.expected
        with connect(cassandra_hosts) as session:
            def rows(q: str):
                return list(session.execute(q.replace("live_counters.", f"{s.keyspace}.")))

            def counts(*values):  # a counter that never counted reads null, as the page says
                return [0 if v is None else v for v in values]

            (totals,) = rows(queries[0])
            assert counts(*totals) == want.totals[room], "room_totals"

            windows = rows(queries[1])
            since_ms = int(since.timestamp() * 1000)
            expected = sorted(((w, v) for (r, w), v in want.windows.items()
                               if r == room and w >= since_ms
                               and dt.datetime.fromtimestamp(w / 1000, UTC).date().isoformat()
                               == day), reverse=True)  # newest window first
            assert expected, "the workload gave the room no window that day"
            got = [(int(r.window_start.replace(tzinfo=UTC).timestamp() * 1000),
                    counts(r.likes, r.gift_count, r.gift_value)) for r in windows]
            assert got == expected, "room_windows"

            gifts = {r.gift_id: counts(r.gift_count, r.gift_value) for r in rows(queries[2])}
            assert gifts and gifts == {g: v for (r, g), v in want.gifts.items() if r == room}
    finally:
        os.killpg(job.pid, signal.SIGTERM)
        job.wait(timeout=60)
