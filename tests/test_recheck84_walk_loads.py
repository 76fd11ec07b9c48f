"""recheck84: a look at an order due a recheck that waits for the chain's word loads nothing
back from the store.

Orders due a recheck whose state the mirror lacks (their makers' funds unknown) wait for the
chain's word (``NodeVerdicts._read_rechecks``). Closed ones leave memory past their grace
(eviction); each walk of the list (``_recheck_part``) then loaded every one back from the store
(``registry.load``: one SQLite read each, ~60 us, 2.8-4.0 s of CPU for 50,000 a walk) only to
find the mirror still lacking its state. Now the list keeps what that look needs (maker, token,
a bitmap order's nonce: ``Rechecks.waits``), the mirror answers it (``Mirror.knows``), and only
the orders a read asks the chain about (``RECHECK_READS`` at most a try) or that can be judged
are loaded back.

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback that
answers the recheck's ``getOrderStates`` calls with a JSON-RPC error while told to."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.recheckwait import (
    counted_waits,
    failing_state_reads,
    judged_once_read,
    stored_unknown,
)
from tests.test_mirror import synced
from tests.test_recheck81_drain import READS

DUE = 300
"""Closed stored orders due a recheck at the start (the chain never filled them)."""
BLOCKS = 6
"""Blocks mined one at a time while every recheck read fails, the records evicted before each."""
MOST = 2
"""``READ_BACKOFF_MOST`` here: a failing read is tried at least every other block."""


async def all_evicted(node: Node, hashes: list[bytes]) -> None:
    """Every record of ``hashes`` out of memory (closed, stored: as the eviction loop leaves
    them past their grace), once no recheck pass is under way."""
    await wait_for(lambda: node._draining is None or node._draining.done(), timeout=30)

    async def gone() -> bool:
        await node.registry.evict(time.monotonic() + 3600)  # (their grace passed)
        return not any(h in node.registry.records for h in hashes)

    await wait_for(gone, timeout=30)


async def test_a_walk_of_evicted_orders_waiting_for_the_chain_loads_them_not_back(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    walked = counted_waits(monkeypatch, MOST)
    cfg, signed = await stored_unknown(c, tmp_path, DUE, 840_000)
    hashes = [s.hash for s in signed]
    with failing_state_reads(c.rpc.url) as (url, failing):
        failing.on.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            await synced(node, c)
            assert len(node._recheck) == DUE, len(node._recheck)  # (the start's read failed)
            reg = node.registry
            loads = looks = tries = 0
            for _ in range(BLOCKS):
                await all_evicted(node, hashes)
                before = reg.lookups, walked["waits"], failing.failed
                await asyncio.to_thread(c.rpc.call, "hardhat_mine", "0x1")
                await synced(node, c)
                await asyncio.sleep(0)  # (a pass the block started: under way)
                await wait_for(lambda: node._draining is None or node._draining.done(), timeout=30)
                loads += reg.lookups - before[0]
                looks += walked["waits"] - before[1]
                tries += failing.failed - before[2]
            assert tries >= 1 and looks >= DUE, (tries, looks)  # (walked with a read's try)
            # (was every waiting order loaded back by each walk: ~DUE a try; now those read)
            assert loads <= tries * READS, (loads, looks, tries)
            assert len(node._recheck) == DUE  # (none judged without the chain's word)
            await judged_once_read(c, node, failing, signed)  # (the reads answer again)


async def test_an_evicted_waiting_order_whose_row_is_gone_leaves_the_list(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order waiting for the chain's word whose row left the store while evicted (a
    deleted row: nothing to judge) leaves the list once a read's try finds it so (each walk
    loaded it before: the next walk's); the others stay due. (The node's own deletion of
    dead rows, ``Node._prune``, drops their looks at once: the next walk takes them off.)"""
    c = chain
    counted_waits(monkeypatch, MOST)
    cfg, signed = await stored_unknown(c, tmp_path, 3 * READS, 841_000)
    hashes = [s.hash for s in signed]
    gone = {hashes[0], hashes[-1]}  # (the first a read takes, one behind the others)
    with failing_state_reads(c.rpc.url) as (url, failing):
        failing.on.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            await synced(node, c)
            await wait_for(node.replayed, timeout=30)
            assert len(node._recheck) == len(signed)
            await all_evicted(node, hashes)
            con = sqlite3.connect(cfg.db, timeout=30)
            with con:
                con.executemany(
                    "DELETE FROM orders WHERE hash = ?", [("0x" + h.hex(),) for h in gone]
                )
            con.close()
            for _ in range(40):  # (till walked: a read's try, backed off, within MOST blocks)
                if not gone & set(node._recheck):
                    break
                await all_evicted(node, hashes)  # (the read loads evicted ones: those first)
                await asyncio.to_thread(c.rpc.call, "hardhat_mine", "0x1")
                await synced(node, c)
                await wait_for(lambda: node._draining is None or node._draining.done(), timeout=30)
            assert not gone & set(node._recheck)
            assert len(node._recheck) == len(signed) - len(gone)  # (the rest still wait)
