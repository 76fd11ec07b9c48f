"""fee90 (watch88's left): the start's catch-up (``Watcher.catch_up``) may begin the proof of
the chain's head below the start's gap (``Watcher._prove``: a task of its own, ended by the
watcher's ``run``). A start that failed after it (``Node.load``: its holds, its adoption, a
store's error) never ran the watcher's task, and neither ``close_clients`` nor ``stop``
ended that proof: it ran on after the node was gone, its reads held for as long as the
endpoint held them (``stall``). ``load`` now ends it when it fails.

Real Hardhat; a real node in this process stopped and started again on its SQLite store, the
second time behind a real loopback proxy (``tests.headsproxy``) whose first
``eth_blockNumber`` (the start's) says a head far above the chain and whose reads of the head
after it (the proof's) are held; the start made to fail after its catch-up (its holds'
step raising)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.node.core import Node
from tests.conftest import Chain
from tests.headsproxy import heads_proxy
from tests.nodeutil import node_config
from tests.startheads import ran_to_head
from tests.test_sign79_feed import head, pay
from tests.toldhead import reads_apart

PHANTOM = 1_000
"""Blocks past the chain the start's one wrong ``eth_blockNumber`` answers (within
``CATCH_UP_BLOCKS``: the saved mirror resumed, the catch-up run)."""


async def test_a_start_that_fails_after_its_catch_up_ends_its_head_proof(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    db = tmp_path / "n.db"
    await ran_to_head(c, db)
    pay(c, 3)  # (mined while the node is down)
    phantom = int(head(c)["number"], 16) + PHANTOM
    async with heads_proxy(c.rpc.url) as proxy:
        proxy.numbers = [hex(phantom)]  # (``check_head``'s read: one wrong answer)
        proxy.holds, proxy.hold_ranges = reads_apart(proxy), True  # (the proof's reads)
        node = Node(node_config(c, db, rpc=proxy.url))
        proofs: list[asyncio.Task[None] | None] = []

        def failing(pooled: object) -> bool:  # (the start's step after its catch-up)
            proofs.append(node.watcher._proof)
            raise RuntimeError("the start failed after its catch-up")

        try:
            await node.prepare()
            node.watcher.stall = 600.0  # (the proof's reads wait as long as they are held)
            monkeypatch.setattr(node, "_start_holds", failing)
            with pytest.raises(RuntimeError, match="after its catch-up"):
                await node.load()
            (proof,) = proofs
            assert proof is not None, node.watcher.unapplied.to_json()  # (the catch-up's)
            assert proof.done() and node.watcher._proof is None  # main: pending, held
        finally:
            await proxy.free()
            await node.stop()
