"""settle74: a settlement pooled on a chain the watcher saw replaced since it was signed is
never replaced at higher fees there, but displaced by a transfer of nothing at its nonce
(``NonceLane._replace``, ``_displace``).

A settlement sent in the window before the watcher sees the chain behind the URL replaced
reaches the new chain at the old chain's nonce, ahead of the new chain's count: anvil (and
geth) keep it pooled. Before, the lane's replace check compared that chain with the view of
now, which it holds: the old chain's match was signed again for it at higher fees, up to
``MAX_REPLACEMENTS`` times (``bench/settle74_send_window.py`` on anvil), and once the lane's
count on the new chain came to its nonce it was mined there. Real anvil (it keeps
a nonce ahead of the count pooled), the node's settler; the lane's nonce set ahead of the
chain's count as the old chain's would be, and the view moved after the send as the
watcher's reset moves it (reset70: a reset that keeps the deployment block's hash)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdex.chain.tx import fees_of
from sdex.settlement.gas import GAP_FILL_GAS
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settlement_fallback import OPERATOR, pair, running_settler
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)

AHEAD = 3
"""Nonces the old chain's count is ahead of the new one's."""


async def test_a_settlement_signed_for_a_replaced_chain_is_not_replaced_there(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = anvil_chain
    caplog.set_level(logging.WARNING, logger="sdex.settlement")
    block = c.rpc.call("eth_getBlockByNumber", hex(c.deployment.deploy_block), False)
    views = [(c.deployment.deploy_block, str(block["hash"]), 0)]
    operator = c.address(OPERATOR)
    count = nonce(c.rpc, operator)
    async with running_settler(c, tmp_path) as (settler, _):
        settler.async_sends.view = lambda: views[-1]
        settler.sender.learn_nonce(count + AHEAD)  # (the old chain's count)
        settler._nonce_view = views[-1]  # (learned in this view: review74a reads it again else)
        match = pair(c, 0)
        settler.submit([match])
        await wait_for(lambda: settler.sent == 1 and not settler.sends, timeout=30)
        views.append((views[0][0], views[0][1], 1))  # the watcher's reset seen

        def said() -> bool:
            return settler.replaced > 0 or any(
                "not replaced" in r.getMessage() for r in caplog.records
            )

        await wait_for(said, timeout=30)
        assert settler.replaced == 0  # (before: signed again for the new chain)
        await wait_for(lambda: len(settler.displaced) == 1, timeout=10)
        assert len(settler.in_flight) == 1
        # the new chain's count comes to its nonce (here: transfers of the operator's key)
        me = c.sender(OPERATOR)
        base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        for n in range(count, count + AHEAD):
            me.broadcast(me.sign_at(n, me.address, b"", GAP_FILL_GAS, fees=(2 * base, 10**9)))
        await wait_for(lambda: nonce(c.rpc, operator) == count + AHEAD + 1, timeout=30)
        # the transfer landed at the settlement's nonce, not the old chain's match
        assert c.exchange.order_info(match.resting.order).filled == 0  # (before: all of it)


async def test_the_old_chains_settlement_is_displaced_before_the_lane_signs_on_the_new_one(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The lane's next settlement after the reset: its nonce read (``NonceLane._count``)
    displaces the old chain's pooled one first, before the lane's own settlements bring the
    new chain's count to it. Before, only its receipt wait's look at it did (after half a
    second: ``bench/settle74_send_window.py``'s node had brought the count to it by then,
    and the old chain's match was mined)."""
    c = anvil_chain
    block = c.rpc.call("eth_getBlockByNumber", hex(c.deployment.deploy_block), False)
    views = [(c.deployment.deploy_block, str(block["hash"]), 0)]
    operator = c.address(OPERATOR)
    count = nonce(c.rpc, operator)
    async with running_settler(c, tmp_path) as (settler, results):
        settler.async_sends.view = lambda: views[-1]
        settler.sender.learn_nonce(count + AHEAD)  # (the old chain's count)
        settler._nonce_view = views[-1]  # (learned in this view: review74a reads it again else)
        old = pair(c, 0)
        settler.submit([old])
        await wait_for(lambda: settler.sent == 1 and not settler.sends, timeout=30)
        views.append((views[0][0], views[0][1], 1))  # the watcher's reset seen
        settler.sender.forget_nonce()  # (as the reset leaves it: read again)
        new = [pair(c, k) for k in range(1, AHEAD + 1)]  # (the lane's own, up to its nonce)
        for m in new:  # (one a transaction)
            settler.submit([m])
            await wait_for(lambda m=m: any(r.match is m for r in results), timeout=30)  # type: ignore[misc]
        await wait_for(lambda: nonce(c.rpc, operator) >= count + AHEAD + 1, timeout=30)
        assert len(settler.displaced) == 1
    assert c.exchange.order_info(old.resting.order).filled == 0  # (before: all of it)
    for m in new:
        assert c.exchange.order_info(m.resting.order).filled > 0
