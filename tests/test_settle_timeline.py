"""A settling node on a real chain: the GIL's switch interval it sets while it serves (its
settlement thread back from a broadcast's I/O is not held behind the event loop for 5 ms),
and the debug timeline of each settled batch (``SDEX_SETTLE_TIMELINE``, read by bench/node.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdex.node.main import SWITCH_INTERVAL
from sdex.settlement import stages
from sdex.settlement.stages import TIMELINE_ENV, FlightTimes, StageTimes
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


@pytest.fixture
def switch_interval() -> Iterator[None]:
    """The process's switch interval back as it was after the test."""
    was = sys.getswitchinterval()
    try:
        yield
    finally:
        sys.setswitchinterval(was)


async def test_a_settling_node_writes_each_batch_timeline_and_lowers_the_switch_interval(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch_interval: None
) -> None:
    c = chain
    timeline = tmp_path / "timeline.jsonl"
    monkeypatch.setenv(TIMELINE_ENV, str(timeline))
    sys.setswitchinterval(0.005)  # (Python's default)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
        assert (await api.post_taken(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_taken(taker))[0] == 201
        await wait_for(lambda: node.settler.stages.matches == 1)
    assert sys.getswitchinterval() == pytest.approx(0.005)  # (put back when it stops)
    rows = [json.loads(line) for line in timeline.read_text().splitlines()]
    assert [r["incoming"] for r in rows] == [[taker.hash_hex]]
    (row,) = rows
    # formed, signed, recorded, send started, send ended, receipt, applied: in that order,
    # all after the match was submitted
    stamps = row["batch"]
    assert len(stamps) == 7 and len(row["submitted"]) == 1
    assert row["submitted"][0] <= stamps[0]
    assert stamps == sorted(stamps)


async def test_a_lower_switch_interval_stays_and_no_timeline_without_the_setting(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch_interval: None
) -> None:
    c = chain
    monkeypatch.delenv(TIMELINE_ENV, raising=False)
    sys.setswitchinterval(SWITCH_INTERVAL / 2)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL / 2)
        assert node.settler.stages.timeline is None
        assert (await api.post_taken(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
        assert (await api.post_taken(c.sign(bid(c, BOB, E18, 3000 * E6))))[0] == 201
        await wait_for(lambda: node.settler.stages.matches == 1)
    assert sorted(p.name for p in tmp_path.iterdir() if "timeline" in p.name) == []


def test_the_timeline_stops_at_its_bound_and_on_a_write_error_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """(Review: it grew without bound, ~90 B a match, and went off silently.)"""
    monkeypatch.setattr(stages, "TIMELINE_MAX_BYTES", 1000)
    loop = asyncio.new_event_loop()
    try:
        t = FlightTimes(loop.create_future(), loop, 1.0, None, 1.1, 1.2, 1.3, 1.4, 1.5)
        path = tmp_path / "timeline.jsonl"
        times = StageTimes(timeline=str(path))
        with caplog.at_level(logging.WARNING, "sdex.settlement"):
            for _ in range(100):
                times.add([0.5], t, 1.6, ["0x" + "ab" * 32])
            assert times.timeline is None and times.matches == 100
            assert 500 < path.stat().st_size <= 1000
            unwritable = StageTimes(timeline=str(tmp_path))  # (a directory)
            unwritable.add([0.5], t, 1.6, [])
            assert unwritable.timeline is None and unwritable.matches == 1
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 2 and all("the timeline is off" in m for m in said), said
    finally:
        loop.close()
