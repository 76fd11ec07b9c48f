"""left60: a slow bootstrap seed no longer holds every walk of the soft cancels.

``flows.snapshot`` gave its walks of the seeds' ``/p2p/cancelled`` pages (left48's retries,
the next seed's or this one's) and then its walk of the seed's open orders one deadline,
``snapshot_seconds``: a seed that answered its pages slowly (each in time, none the last)
used all of it, the retries and the orders' walk ended before their first page, and the
node served wallets without its peers' soft cancels until anti-entropy's first round, nor
its seed's open orders from the boot. Now each walk of the cancels has its own share of the
bound (``cancel_walk_seconds``: a third), and the orders' walk its own.

A real node on the test's Hardhat; its seed a real aiohttp server on loopback that signs its
answers (``HostilePeer``): its first walk of cancels trickles empty pages, its second is
honest.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_cancel45_hostile_seed import status
from tests.test_hostile import HostilePeer, hello_answer
from tests.test_left48_boot_retry import withdrawn_entry


async def test_a_slow_seed_leaves_time_for_the_next_walk_of_its_cancels(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    withdrawn, entry = withdrawn_entry(c)
    seed = HostilePeer({})
    walks = {"started": 0}

    async def cancelled(r: web.Request) -> object:
        after = int(r.query.get("after", "0"))
        if after == 0:
            walks["started"] += 1
        if walks["started"] == 1:  # the first walk: an empty page at a time, never the last
            await asyncio.sleep(0.2)
            return {"orders": [], "next": after + 1}
        return {"orders": [entry] if after == 0 else [], "next": 1 if after == 0 else after}

    seed.answers = {
        "/p2p/hello": hello_answer(seed),
        "/p2p/cancelled": cancelled,
        "/p2p/snapshot": lambda _r: {"orders": [], "next": 0},
        "/p2p/digest": lambda _r: {"buckets": ["0"] * 256},
    }
    cfg = node_config(c, tmp_path / "n.db", peers=(seed.url,))
    cfg = replace(cfg, gossip=replace(cfg.gossip, snapshot_seconds=6.0))
    async with seed.serving(), running_node(cfg) as (node, api):
        assert node.gossip is not None
        core = node.gossip.core

        def booted() -> bool:  # (before: the orders' walk never asked a page, its deadline
            return core.cancels_loaded and seed.calls.get("/p2p/snapshot", 0) > 0  # gone)

        await wait_for(booted, timeout=30)
        assert walks["started"] >= 2
        code, body = await api.post_order(withdrawn)  # a wallet posts the withdrawn order
        assert await status(api, withdrawn.hash_hex) == "cancelled", (code, body)
