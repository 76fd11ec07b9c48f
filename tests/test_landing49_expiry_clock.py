"""landing49: the node's clock for matching (``NodeState.now``: the chain's time and the
time settlements have lately taken to land, attack48) was also its clock for "expired".
With a landing time of 30 s, an honest resting order with less than 30 s left was closed
as ``expired`` for good (stored, published, never reopened) while the chain would still
fill it, and a new order with that long left was refused. Expired now goes by the chain's
clock (``chain_time``); the landing time only keeps such an order from being matched (it
rests, unmatched, until the chain's clock passes its expiry or the landing time drops)."""

from __future__ import annotations

from pathlib import Path

from sdex.node.core import Node
from tests.conftest import Chain
from tests.sandwich import node_on
from tests.test_attack44_chain_clock import pending_time
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review49_landing_and_prune import stalled_trade

LANDING = 12
"""Seconds the node's settlements took to land (a chain that stalled that long): more than
the 10 s the chain's clock is put before the orders' expiry."""


def window_expiry(c: Chain, node: Node) -> int:
    """An expiry ``4 * LANDING`` s past the chain's clock now: its next block's stamp, or the
    node's clock if later (the node may not have read a chain running ahead yet: ``at`` then
    found the chain past ``expiry - 10``, "Timestamp lower than the previous block's"), for
    orders posted after the stall (the stall's own length is then no part of the window)."""
    return max(node.chain_time(), pending_time(c)) + 4 * LANDING


def at(c: Chain, timestamp: int) -> None:
    """The chain's next block, mined now, stamped ``timestamp``."""
    c.rpc.call("evm_setNextBlockTimestamp", timestamp)
    c.rpc.call("evm_mine")


async def test_an_order_within_the_landing_time_rests_unmatched_until_the_chain_expires_it(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_on(c, tmp_path) as (node, api):
        await stalled_trade(c, node, api, stall=LANDING)
        assert node.settler.stages.landing >= LANDING
        expiry = window_expiry(c, node)
        honest = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=expiry))
        code, body = await api.post_order(honest)
        assert code == 201, body
        assert body["metaData"]["status"] == "open", body
        # the chain's clock 10 s before its expiry: within the landing time, not expired
        at(c, expiry - 10)
        await synced(node, c)
        assert node.chain_time() < expiry - 5 and node.now() >= expiry
        assert await api.status(honest) == "open"  # (was: expired, for good)
        # a new order with 10 s left is taken (was: refused), and rests
        fresh = c.sign(ask(c, ALICE, E18, 3050 * E6, expiry=expiry))
        code, body = await api.post_order(fresh)
        assert code == 201, body
        assert body["metaData"]["status"] == "open", body
        # a crossing bid does not match them: a settlement would land past their expiry
        sent = c.rpc.call("eth_getTransactionCount", c.address(19), "latest")
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3100 * E6)), "ioc")
        assert code == 201, body
        assert body["matches"] == [], body
        assert await api.status(honest) == "open"
        assert await api.status(fresh) == "open"
        # the chain's clock passes the expiry: both expire, nothing was sent for them
        at(c, expiry)
        await synced(node, c)
        assert await api.status(honest) == "expired"
        assert await api.status(fresh) == "expired"
        assert c.rpc.call("eth_getTransactionCount", c.address(19), "latest") == sent
        assert node.settler.failed == 0
