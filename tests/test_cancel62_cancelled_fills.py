"""cancel62: a soft-cancelled order's filled amount, on every node, is the chain's.

A soft cancel binds the nodes, not the chain: anyone holding the signed order may still fill
it (``matchOrders``, ``fillOrder``), and such a fill is a real trade of the wallet's order.
Before, a node kept a soft-cancelled order's record at what was filled or in flight when it
closed it, and took a later fill only from a peer's settlement notice, added to the record:
1. a match made on chain after the cancel counted where a (any) peer's notice named it, and
   nowhere else, so two nodes showed two amounts for one order;
2. a transaction named again once out of ``NOTICES_KEPT`` counted again (the fills added);
3. a match in flight at a node when the cancel came counted only at its direct peers (the
   notice's only receivers): a node further away showed 0 filled for good.
Now each node follows the chain's filled amount of the orders soft-cancelled there from its
own watcher, and a notice sets (never adds) the chain's amount as of its transaction's
block. Real Hardhat, real ``sdex node`` processes or a node on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdex.gossip import NodeKey, PeerClient
from sdex.node import refused
from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Api, Cluster, node_config, running_node, wait_for
from tests.test_attack38_soft_cancel_sync import cancel_at, status_at
from tests.test_hostile import _raw_signed_post
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import held_chain, pending_txs
from tests.test_user50_late_cancel_fill import filled_at

__all__ = ["held_chain"]  # (the fixture, used by name)


async def all_show(apis: list[Api], order_hash: str, filled: int) -> None:
    """Every node's record of the order says ``filled``, within a bound; else which do not."""

    async def shown() -> list[int | None]:
        return [await filled_at(api, order_hash) for api in apis]

    async def agreed() -> bool:
        return await shown() == [filled] * len(apis)

    try:
        await wait_for(agreed, timeout=60)
    except AssertionError:
        raise AssertionError(
            f"filled at the nodes: {await shown()}, the chain's {filled}"
        ) from None


async def test_a_match_after_the_cancel_counts_alike_on_every_node(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with Cluster(c, tmp_path, [[], [0]], gossip_scale=GOSSIP_SCALE) as net:
        a, b = net.api(0), net.api(1)
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await a.post_taken(half))[0] == 201

        async def b_has_it() -> bool:
            return await status_at(b, half) == "open"

        await wait_for(b_has_it, timeout=60)
        await cancel_at(a, c, half, ALICE)

        async def b_cancelled() -> bool:
            return await status_at(b, half) == "cancelled"

        await wait_for(b_cancelled, timeout=60)
        # anyone holding the signed order matches it on chain after the cancel
        receipt = c.exchange.match_orders(
            c.sender(CAROL), half, c.sign(bid(c, BOB, E18, 1000 * E6))
        )
        assert c.exchange.order_info(half.order).filled == E18
        # a peer names that match to node A only (before: A counted it, B never did)
        stranger = PeerClient(a.session, NodeKey.generate(), "http://127.0.0.1:9")
        body = json.dumps({"txHash": receipt.tx_hash}).encode()
        code = await _raw_signed_post(
            stranger, a.base, "/p2p/settlements", body, net.node_key(0).node_id
        )
        assert code == 200
        await all_show([a, b], half.hash_hex, E18)
        # and the wallet's own fill after the cancel, named by nobody: a real fill too
        c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)
        assert c.exchange.order_info(half.order).filled == E18 + E18 // 2
        await all_show([a, b], half.hash_hex, E18 + E18 // 2)
        assert [await status_at(api, half) for api in (a, b)] == ["cancelled"] * 2


async def test_a_notice_named_again_past_notices_kept_counts_nothing_twice(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr(refused, "NOTICES_KEPT", 1)  # (1,024 transactions to push it out)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await api.post_taken(half))[0] == 201
        await cancel_at(api, c, half, ALICE)
        c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)  # half a WETH
        match = c.exchange.match_orders(  # one WETH, after it
            c.sender(CAROL), half, c.sign(bid(c, BOB, E18, 1000 * E6))
        )
        total = E18 + E18 // 2
        assert c.exchange.order_info(half.order).filled == total
        assert await node.settlement_notice(match.tx_hash)
        await synced(node, c)
        first = await filled_at(api, half.hash_hex)
        other = c.exchange.fill_order(c.sender(CAROL), c.sign(ask(c, ALICE, E18, 1000 * E6)), E6)
        assert await node.settlement_notice(other.tx_hash)  # pushes the match out
        assert not node.notices.applied(match.tx_hash)
        assert await node.settlement_notice(match.tx_hash)  # a hostile peer names it again
        again = await filled_at(api, half.hash_hex)
        # before: 1 WETH, then 2 (the match counted twice, up to the chain's 1.5)
        assert (first, again) == (total, total)
        assert await status_at(api, half) == "cancelled"


async def test_a_fill_in_flight_reaches_a_node_two_hops_from_the_settling_one(
    held_chain: Chain, tmp_path: Path
) -> None:
    c = held_chain
    async with Cluster(c, tmp_path, [[], [0], [1]], gossip_scale=GOSSIP_SCALE) as net:
        apis = [net.api(i) for i in range(3)]
        await net.cut([0], [2])  # node 2 hears node 0 only through node 1
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await apis[0].post_taken(half))[0] == 201

        async def everywhere(status: str) -> bool:
            return [await status_at(api, half) for api in apis] == [status] * 3

        await wait_for(lambda: everywhere("open"), timeout=60)
        assert (await apis[0].post_taken(c.sign(bid(c, BOB, E18, 1000 * E6))))[0] == 201
        await wait_for(lambda: pending_txs(c) > 0, timeout=60)  # node 0's settlement: in flight
        await cancel_at(apis[2], c, half, ALICE)
        await wait_for(lambda: everywhere("cancelled"), timeout=60)
        assert c.exchange.order_info(half.order).filled == 0  # (not mined yet)
        c.rpc.call("evm_mine")  # the fill lands; node 0's notice reaches node 1 only
        await wait_for(lambda: c.exchange.order_info(half.order).filled == E18, timeout=30)
        await all_show(apis, half.hash_hex, E18)  # before: node 2 held 0 for good
        assert await everywhere("cancelled")


async def test_a_fill_long_after_the_cancel_counts_once_the_record_left_memory(
    chain: Chain, tmp_path: Path
) -> None:
    """The record evicted (closed, stored, out of memory) when the fill comes: the watcher
    reads it back from the store and gives it the chain's amount."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", closed_grace=0.2)) as (node, api):
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await api.post_taken(half))[0] == 201
        await cancel_at(api, c, half, ALICE)
        await wait_for(lambda: node.registry.get(half.hash) is None, timeout=30)  # evicted
        c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)  # half a WETH
        await synced(node, c)
        await all_show([api], half.hash_hex, E18 // 2)
        assert await status_at(api, half) == "cancelled"
