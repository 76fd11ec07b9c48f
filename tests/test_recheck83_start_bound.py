"""recheck83: a start's read of the orders due a recheck against a hung chain ends within
``START_READ_WITHIN`` in all, and ``/health`` and the log say why the node is not up yet.

A start reads the chain's word on the orders a kill left due a recheck, ``START_READ_TRIES``
(3) times if it fails, each try waited one ``RECHECK_READ_WAIT`` (5 s) longer: against a
chain that takes the read and never answers, 5 + 10 + 15 = 30 s of 503 "starting", with
nothing said of why. Now the tries share one bound, the start goes on past it (the orders
left due, read with the blocks to come), and ``/health``'s "starting" answer names the step
(``step``).

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback that
holds every ``getOrderStates`` call (``tests/test_recheck83_backoff.failing_state_reads``)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from sdex.node import verdicts
from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.recheckwait import failing_state_reads, unknown_makers_asks
from tests.test_mirror import synced
from tests.test_recheck81_drain import mined_till_judged
from tests.test_replay80 import stored_closed

WAIT = 2.0
"""``RECHECK_READ_WAIT`` here: the tries of before waited 2 + 4 + 6 = 12 s in all."""
WITHIN = 3.0
"""``START_READ_WITHIN`` here."""
SLACK = 6.5
"""Seconds a loaded machine may add to the bound (before: 12 s at least, its waits alone)."""


async def starting_answers(port: int, answers: list[dict[str, object]]) -> None:
    """``/health`` asked every 50 ms, its 503 "starting" answers kept (till cancelled)."""
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/health") as r:
                    body = await r.json()
                    if r.status == 503 and body.get("status") == "starting":
                        answers.append(body)
            except (aiohttp.ClientError, OSError, ValueError):
                pass  # (not listening yet)
            await asyncio.sleep(0.05)


async def test_a_starts_recheck_read_against_a_hung_chain_ends_within_its_bound(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    monkeypatch.setattr(verdicts, "RECHECK_READ_WAIT", WAIT)
    monkeypatch.setattr(verdicts, "START_READ_WITHIN", WITHIN, raising=False)
    took: list[float] = []
    recheck_stored = Node._recheck_stored

    async def timed(node: Node) -> None:
        t = time.monotonic()
        try:
            await recheck_stored(node)
        finally:
            took.append(time.monotonic() - t)

    monkeypatch.setattr(Node, "_recheck_stored", timed)
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg):
        pass  # (the store made: its schema, its chain)
    took.clear()
    signed = unknown_makers_asks(c, 40, 833_000)
    stored_closed(cfg.db, signed)
    answers: list[dict[str, object]] = []
    caplog.set_level(logging.INFO, logger="sdex.node")
    with failing_state_reads(c.rpc.url) as (url, proxy):
        proxy.hang.set()  # (every read of the orders' state taken, never answered)
        asking = asyncio.ensure_future(starting_answers(cfg.port, answers))
        try:
            async with running_node(replace(cfg, rpc=url)) as (node, _):
                assert took and took[0] <= WITHIN + SLACK, took  # (was 12 s: 3 tries)
                assert proxy.held >= 1
                steps = [str(a.get("step", "")) for a in answers]
                assert any("due a recheck" in s for s in steps), steps[-3:]
                said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
                assert any("due a recheck" in m and "not read" in m for m in said), said
                assert len(node._recheck) == len(signed)  # (left due: read with the blocks)
                proxy.hang.clear()
                proxy.release.set()  # (the chain answers again: every order judged)
                await synced(node, c)
                await mined_till_judged(c, node)
                kept = [s for s in signed if (r := node.registry.load(s.hash)) and r.filled]
                assert not kept, len(kept)
        finally:
            asking.cancel()
