"""A direct ``fillOrder`` of a tiny part of a fee-paying order does not credit the peer that
delivered it (peers81, ``readbudget.paid_here``): a fill credits a trade only if it is at
least this node's minimum of what the order's maker receives (``--min-amount``), so the fee
it paid is at least what this node's least order pays.

peers80 credited a fill that paid this node's fee recipient from an order asking this node's
rate, whatever the fill's size: a sybil pushing a bid of one of its accounts that pays this
node's fee, then filling a few base units of it on the chain from its other account (its own
gas, a fee of a few wei of WETH), ranked first for ``TRADED_SECONDS``.

Real node on a real Hardhat, its wallet API on loopback; the fill sent to the chain by the
sybil's other account (``Exchange.fill_order``), seen by the node's watcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.node.readbudget import paid_here
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for, with_minimums
from tests.test_checks75_held_reads import HONEST, done, push, rested
from tests.test_node import CAROL, DAVE, E6, E18, bid
from tests.test_peers80_paid_credit import A1, A2, OTHER, SYBIL, US, fill, order
from tests.test_sybil78_traded_first import OPERATOR, charging, fee_of

MIN_WETH = E18 // 100
"""This node's minimum of WETH (0.01): what a bid's maker receives."""


async def test_a_tiny_direct_fill_of_a_fee_paying_order_is_not_credited(
    chain: Chain, tmp_path: Path
) -> None:
    """The sybil pushes DAVE's bid paying this node's fee; CAROL fills 10^9 wei of it on the
    chain (3 units of USDC for it, a fee of 3 * 10^6 wei): not credited (before: ``traded``
    1). The honest peer's bid, filled at the minimum in a later block, is credited (the
    bound is the node's least order, not more; its credit says the tiny fill's block was
    seen)."""
    c = chain
    cfg = with_minimums(charging(c, node_config(c, tmp_path / "n.db", OPERATOR)), c, MIN_WETH, E6)
    async with running_node(cfg) as (node, _api):
        g = node.gossip
        assert g is not None
        paying = c.sign(bid(c, DAVE, E18, 3100 * E6, **fee_of(c, E18)))
        await rested(g, paying, SYBIL)
        tiny = c.exchange.fill_order(c.sender(CAROL), paying, 10**9)
        assert tiny.status == 1
        honest = c.sign(bid(c, DAVE, E18, 3000 * E6, **fee_of(c, E18)))
        pushed = push(g, HONEST, honest)
        await wait_for(done(pushed), 30)
        assert pushed.result()["accepted"] == 1, pushed.result()
        least = c.exchange.fill_order(c.sender(CAROL), honest, MIN_WETH)
        assert least.status == 1 and least.block_number >= tiny.block_number
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 60)  # (its block seen)
        assert g.peers.standing(SYBIL).traded == 0  # (before: 1)


@pytest.mark.parametrize(
    ("received", "least", "paid"),
    [
        (1000, 1000, {1}),  # (at the minimum)
        (1000, 0, {1}),  # (no minimum for the token: a fee above nothing)
        (999, 1000, set()),  # (below it: the fee a few units)
        (10**6, 1000, {1}),
    ],
)
def test_paid_here_asks_a_fill_of_the_nodes_minimum(
    received: int, least: int, paid: set[int]
) -> None:
    """The paying order's fill (what its maker received, its taker token: ``US``'s
    ``minimum``) against the node's minimum of that token."""
    ask = fill(1, A1, A2, received, 10, OTHER, 0, 0)
    paying = fill(2, A2, A1, 10, received, US, 3 * received // 1000, 1)
    orders = {2: order(US, 3)}

    def minimum(token: str) -> int:
        return least if token == US else 0

    got = paid_here([ask, paying], lambda h: orders.get(h[0]), (US, 30), minimum)
    assert {f.order_hash[0] for f in got} == paid
