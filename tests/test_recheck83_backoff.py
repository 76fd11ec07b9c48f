"""recheck83: a chain read of the orders due a recheck that fails each time backs off.

Orders due a recheck whose state the mirror lacks wait for the chain's word
(``NodeVerdicts._read_rechecks``). While that read failed each time (an endpoint refusing
``getOrderStates``, a hung chain), every new head read them again and walked the whole list
(``_drain_rechecks``: ~150 ms CPU for 50,000, each head). Now a failed read lets the next
1, 3, 7... chances pass (``READ_BACKOFF_MOST`` at most), and the orders waiting for its word
are walked only with a try; once the reads answer again every order is judged, none left due.

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback that
answers the recheck's ``getOrderStates`` calls with a JSON-RPC error while told to."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.recheckwait import counted_waits, failing_state_reads, judged_once_read, stored_unknown
from tests.test_mirror import synced

DUE = 300
"""Closed stored orders due a recheck at the start (the chain never filled them)."""
BLOCKS = 24
"""Blocks mined one at a time while every recheck read fails."""
MOST = 8
"""``READ_BACKOFF_MOST`` here: a failing read is tried again at least every 8 chances."""


async def test_a_recheck_read_failing_each_time_backs_off_and_every_order_is_judged_after(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    walked = counted_waits(monkeypatch, MOST)
    cfg, signed = await stored_unknown(c, tmp_path, DUE, 832_000)
    with failing_state_reads(c.rpc.url) as (url, failing):
        failing.on.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            await synced(node, c)
            assert len(node._recheck) == DUE, len(node._recheck)  # (the start's read failed)
            reads, looks = failing.failed, walked["waits"]
            for _ in range(BLOCKS):
                await asyncio.to_thread(c.rpc.call, "hardhat_mine", "0x1")
                await synced(node, c)
            await asyncio.sleep(0)  # (a pass the last block started: under way)
            await wait_for(lambda: node._draining is None or node._draining.done(), timeout=30)
            reads, looks = failing.failed - reads, walked["waits"] - looks
            tries = BLOCKS // 3  # (was one a block: 24 reads, 24 walks of all 300)
            assert reads <= tries and looks <= tries * DUE, (reads, looks)
            assert len(node._recheck) == DUE  # (none judged without the chain's word)
            await judged_once_read(c, node, failing, signed)  # (the reads answer again)
