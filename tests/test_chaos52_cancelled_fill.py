"""A peer's soft-cancelled order taken while this node's mirror is a block behind the chain
(chaos52). Found by the chaos run (``tests/chaosrun.py``, seed 52): Alice's ask was half
filled at node 0 and she soft-cancelled it there 0.09 s later; nodes 1 and 2 took the
cancelled order from node 0's gossip before their watchers had read the fill's block. Their
mirrors followed the chain ("ready", one block behind), so they took what the mirror said was
filled, 0; the fill's block, applied next, does not add to a closed order (a fill after a
node closed an order is left for the audit to see). They held it ``cancelled`` with
``filledMakerAmount`` 0 for good, and ``sdex audit --node`` flagged the fill, mined before
they heard of the order, as ``fill_after_node_closed``. The same whether the order came
closed (with its cancel, from a peer's page) or open and then its cancel (the run's case: a
peer's notice; a wallet's cancel at this node too). A node now reads the chain's filled
amount of an order it closes by a soft cancel (what was filled before it closed it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.node.core import Node
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask


class HoldPoll:
    """Stops ``node``'s watcher at the start of its next poll (before it reads the chain)
    until ``release``: the mirror stays where it was, still following (status ok)."""

    def __init__(self, node: Node) -> None:
        self.gate, self.entered = asyncio.Event(), asyncio.Event()
        poll = node.watcher.poll_once

        async def held() -> bool:
            self.entered.set()
            await asyncio.wait_for(self.gate.wait(), 60)
            return await poll()

        node.watcher.poll_once = held  # type: ignore[method-assign]

    def release(self) -> None:
        self.gate.set()


async def test_a_cancelled_order_taken_a_block_behind_keeps_the_fill_before(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await synced(node, c)
        hold = HoldPoll(node)
        await asyncio.wait_for(hold.entered.wait(), 20)  # (held before it reads the fill)
        half = c.sign(ask(c, ALICE, E18, 1000 * E6))
        c.exchange.fill_order(c.sender(BOB), half, 400 * E6)  # 0.4 WETH of it, on chain
        assert node.mirror_ready()  # (one block behind: it still answers intake)
        sig = sign_cancel(c.domain, half.hash, c.keys[ALICE])
        entry = {**half.to_json(), "cancelSignature": "0x" + sig.hex()}
        assert await node.take_cancelled_many([entry], "http://127.0.0.1:9") == ["accepted"]
        hold.release()
        await synced(node, c)
        code, rec = await api.get(f"/v1/orders/{half.hash_hex}")
        assert code == 200, rec
        assert rec["metaData"]["status"] == "cancelled"
        assert rec["metaData"]["filledMakerAmount"] == str(4 * E18 // 10)  # before: "0"


async def test_a_soft_cancel_a_block_behind_keeps_the_fill_before(
    chain: Chain, tmp_path: Path
) -> None:
    """The run's case: the order held open here, its fill mined, the cancel taken before
    the watcher read the fill's block."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        half = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await api.post_taken(half))[0] == 201
        await synced(node, c)
        hold = HoldPoll(node)
        await asyncio.wait_for(hold.entered.wait(), 20)
        c.exchange.fill_order(c.sender(BOB), half, 400 * E6)  # 0.4 WETH of it, on chain
        sig = sign_cancel(c.domain, half.hash, c.keys[ALICE])
        code, body = await api.post(
            f"/v1/orders/{half.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
        )
        assert (code, body["status"]) == (200, "cancelled"), body
        hold.release()
        await synced(node, c)

        async def counted() -> bool:
            _, rec = await api.get(f"/v1/orders/{half.hash_hex}")
            return bool(rec["metaData"]["filledMakerAmount"] == str(4 * E18 // 10))

        await wait_for(counted, timeout=10)  # before: "0" for good
        _, rec = await api.get(f"/v1/orders/{half.hash_hex}")
        assert rec["metaData"]["status"] == "cancelled"
