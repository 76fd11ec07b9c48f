"""peers82 (loop81's leftover): a maker's new wallet order crossing his own order kept out of
matching (cancelled on chain in a block the node has not applied: ``sdex.node.gone``,
``NodeIntake.kept_out``) was refused ``SELF_TRADE``, though the kept-out order can never
trade (the engine is passed it in ``skip``). Now the self-trade check leaves out the orders
kept out: the new order rests.

Real Hardhat, a real node on loopback, the cancel's block held unapplied by the node's store
locked from another connection (loop80's ``Hook``, as ``tests.test_loop81_kept_out``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_loop80_gone_unapplied import resting_behind_hook
from tests.test_loop80_gone_unapplied import withdrawn_while_unapplied as withdrawn
from tests.test_node import BOB, E18, ask


async def test_a_makers_order_crossing_his_own_kept_out_order_is_not_a_self_trade(
    chain: Chain, tmp_path: Path
) -> None:
    """Bob's bid is kept out (his cancel's block not applied); his new ask crossing it rests
    (before: refused 400 ``SELF_TRADE`` naming the bid); once the block is applied the bid
    is cancelled and his ask stays open."""
    c = chain
    db = tmp_path / "n.db"
    async with resting_behind_hook(c, db) as k:
        node, api, hook = k.node, k.api, k.hook
        resting, crossing, lines = k.resting, k.crossing, k.lines
        own = c.sign(ask(c, BOB, E18 // 10, crossing.order.taker_amount), BOB)
        settler = node.settler
        try:
            await withdrawn(c, node, api, hook, resting, crossing, lines)
            assert resting.hash in node.gone_orders.orders
            w0 = settler.withdrawn_matches
            answer = asyncio.ensure_future(api.post_order(own))  # (its commit waits)
            booked = lambda: node.book.find(own.hash) is not None  # noqa: E731
            await wait_for(lambda: answer.done() or booked(), 60)
            if answer.done():  # (a refusal answers at once: nothing stored)
                status, body = answer.result()
                assert status == 201, (status, body)  # before: 400 SELF_TRADE
            await wait_for(booked, 60)
            await wait_for(lambda: settler.idle.is_set(), timeout=60)
            assert node.watcher.unapplied.applied < quantity(c.rpc.call("eth_blockNumber"))
            assert settler.withdrawn_matches == w0
            st = node.book.get(own.hash)
            assert st is not None and st.pending == 0 and st.filled == 0
        finally:
            hook.unlock()

        async def cancelled() -> bool:
            return await api.status(resting) == "cancelled"

        await wait_for(cancelled, timeout=60)
        status, body = await answer
        assert status == 201, (status, body)
        assert await api.status(own) == "open"
