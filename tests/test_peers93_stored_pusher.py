"""peers93: a trade whose orders are only in the store when the watcher reaches its block (a
restart between the settlement and the watcher's reading of its block, or their records
evicted) credits the peer that delivered the taken order first, from its stored row.

Before, ``paid_here``'s look-ups at credit time (``NodeChainState._order_of``, ``_pushed``,
``_sources``) read the in-memory records only: a filled order is not reloaded at a start, so
the fill credited nobody (neither order known, none paid); of a match whose payer alone was
held, the payer's pusher would have been (the taken order not known as pushed: not reached
here, the node settles no two peers' orders). And the start's catch-up ran before the kept
standings were restored: a peer's trade it read had no standing to credit.

A real node on a real Hardhat and its SQLite store: the watcher held inside the block before
the settlement's (``HoldBlock``: the settler confirms it from its receipt meanwhile and stores
the fills, the orders filled), the node stopped there and started again on its store, the
fill applied by the start's catch-up; or the records evicted (``forgotten``) meanwhile."""

from __future__ import annotations

from pathlib import Path

from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.reorgutil import forgotten
from tests.test_checks75_held_reads import HONEST, rested
from tests.test_mirror import synced
from tests.test_mirror_lag import HoldBlock
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_sybil78_traded_first import charging, fee_of


async def hold_next(c: Chain, node: Node) -> HoldBlock:
    """``node``'s watcher held inside the next block, mined empty (the block set before it is
    mined: a watcher quick to apply it is held all the same)."""
    hold = HoldBlock(node)
    hold.block = int(c.rpc.call("eth_blockNumber"), 16) + 1
    c.rpc.call("evm_mine")
    await hold.inside(hold.block)
    return hold


async def fills_stored(api: Api, n: int) -> None:
    """``n`` fills listed by the node (its settler's, from their receipt)."""

    async def listed() -> bool:
        _, body = await api.get("/v1/fills")
        return len(body["records"]) >= n

    await wait_for(listed, 60)


def paying_pair(c: Chain) -> tuple[SignedOrder, SignedOrder]:
    """ALICE's ask and BOB's bid crossing it whole, the bid paying this node's fee."""
    return (
        c.sign(ask(c, ALICE, E18, 3100 * E6)),
        c.sign(bid(c, BOB, E18, 3100 * E6, **fee_of(c, E18))),
    )


async def held_trade(
    c: Chain, node: Node, api: Api, sell: SignedOrder, buy: SignedOrder
) -> HoldBlock:
    """``sell`` pushed by HONEST and rested, the watcher held inside the next block, ``buy``
    posted to match it: the settler's two fills stored (from their receipt) while the
    watcher is held below their block. The hold, to release."""
    g = node.gossip
    assert g is not None
    await rested(g, sell)
    held = await hold_next(c, node)
    await api.post_matched(buy)
    await fills_stored(api, 2)
    return held


async def test_a_trade_read_after_a_restart_credits_the_stored_orders_pusher(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db"))
    sell, buy = paying_pair(c)
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await synced(node, c)
        held = await held_trade(c, node, api, sell, buy)
        assert await api.status(sell) == "filled"
        assert g.peers.standing(HONEST).traded == 0
        assert node.watcher.applied is not None
        assert node.watcher.applied.number < held.block  # (still held: stopped so)
    async with running_node(cfg) as (node, api):  # (the filled orders: in the store only)
        g = node.gossip
        assert g is not None
        await synced(node, c)  # (the trade's block applied by the start's catch-up)
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 30)  # (before: 0)


async def test_a_trade_whose_orders_were_evicted_before_its_block_credits_the_pusher(
    chain: Chain, tmp_path: Path
) -> None:
    """No restart: the filled orders' records evicted from memory (``forgotten``) before the
    watcher reaches their block, the ask's pusher credited from its stored row (before:
    nobody)."""
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db"))
    sell, buy = paying_pair(c)
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await synced(node, c)
        held = await held_trade(c, node, api, sell, buy)
        node.registry.grace = 0.0
        await forgotten(node, sell)
        await forgotten(node, buy)
        held.release()
        await synced(node, c)
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 30)  # (before: 0)
