"""A settling node on a real chain: the GIL's switch interval it sets while it serves (its
settlement thread back from a broadcast's I/O is not held behind the event loop for 5 ms),
and the debug timeline of each settled batch (``SDEX_SETTLE_TIMELINE``, read by bench/node.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdex.node.main import SWITCH_INTERVAL
from sdex.settlement.stages import TIMELINE_ENV
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
        assert (await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_order(taker))[0] == 201
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
        assert (await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
        assert (await api.post_order(c.sign(bid(c, BOB, E18, 3000 * E6))))[0] == 201
        await wait_for(lambda: node.settler.stages.matches == 1)
    assert sorted(p.name for p in tmp_path.iterdir() if "timeline" in p.name) == []
