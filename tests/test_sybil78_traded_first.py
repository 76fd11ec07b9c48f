"""sybil78: a peer that delivered first an order which then traded ranks ahead of sybils
that only delivered (``standings.leading``, ``Peers.traded``), for ``TRADED_SECONDS``.

Points of delivered value cost a sybil nothing but signatures (fresh orders of its own funded
account, short expiries round the per-maker bound), so sybils that delivered before any
honest peer held the top 8 places (a bound of pending reads and a budget of chain reads of
their own) for as long as they kept delivering. An order that trades costs a settlement's
gas; an honest peer's orders trade as the market takes them.

A real node on a real Hardhat: the honest peer's pushed ask taken by a wallet's bid that pays
the node's fee (peers80: a trade that paid this node nothing credits no one), matched and
settled by the node; and the rank on a simulated clock, table-driven."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.gossip.peers import Peers
from sdex.gossip.standings import MAX_DELIVERED, TRADED_SECONDS
from sdex.node.config import NodeConfig
from sdex.node.readbudget import peer_sender
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_checks75_held_reads import HONEST, done, push
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_sybil77_earned_reads import Clock

TOP, BAR = 8, 5
OPERATOR = 19
"""``node_config``'s operator: its address is the node's fee recipient (``charging``)."""
FEE_BPS = 30


def charging(c: Chain, cfg: NodeConfig) -> NodeConfig:
    """``cfg`` asking ``FEE_BPS`` of its wallets' orders, paid to its operator's address (a
    trade credits a peer only if it paid this node its fee: peers80)."""
    return replace(cfg, fee_bps=FEE_BPS, fee_recipient=c.address(OPERATOR))


def fee_of(c: Chain, base: int) -> dict[str, object]:
    """A bid's fields paying ``charging``'s fee on ``base`` WETH (its ``takerAmount``)."""
    return {"fee_recipient": c.address(OPERATOR), "fee_amount": base * FEE_BPS // 10_000}


def sybil(k: int) -> str:
    return "0x" + f"{0x50 + k:02x}" * 20


async def test_a_peer_whose_order_traded_outranks_sybils_that_came_first(
    chain: Chain, tmp_path: Path
) -> None:
    """8 sybils at the cap, delivering since before the honest peer; its ask, pushed, is
    taken by a wallet's bid that pays the node's fee and settled: it is among the top 8 once
    the fill is seen."""
    c = chain
    async with running_node(charging(c, node_config(c, tmp_path / "n.db"))) as (node, api):
        g = node.gossip
        assert g is not None
        for k in range(TOP):
            task = push(g, sybil(k), c.sign(ask(c, BOB, E18 + k, (4000 + k) * E6)))
            await wait_for(done(task), 30)
            assert task.result()["accepted"] == 1, task.result()
            g.peers.standing(sybil(k)).delivered_at -= 100.0  # (they began 100 s earlier)
        resting = push(g, HONEST, c.sign(ask(c, ALICE, E18, 3100 * E6)))
        await wait_for(done(resting), 30)
        assert resting.result()["accepted"] == 1, resting.result()
        assert g.peers.standing(HONEST).delivered == MAX_DELIVERED
        g.peers._leaders.stale()
        assert g.peers.leading(TOP, BAR) == {sybil(k) for k in range(TOP)}
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3100 * E6, **fee_of(c, E18))))
        assert code == 201 and len(body["matches"]) == 1, body
        await wait_for(lambda: HONEST in g.peers.leading(TOP, BAR), 60)
        assert peer_sender(g, HONEST) == HONEST
        assert g.peers.standing(HONEST).traded == 1


@pytest.mark.parametrize(
    ("traded_ago", "ahead"),
    [
        (None, False),  # (never traded: the sybils began first)
        (0.0, True),
        (TRADED_SECONDS - 10.0, True),
        (TRADED_SECONDS + 10.0, False),  # (lapsed)
    ],
)
def test_a_trade_ranks_first_for_traded_seconds(traded_ago: float | None, ahead: bool) -> None:
    """16 sybils at the cap since before the honest peer came, all delivering; the honest
    peer's order traded ``traded_ago`` seconds before now (simulated clock)."""
    clock = Clock()
    peers = Peers("0x" + "01" * 32, "http://127.0.0.1:1", clock=clock, per_loopback=64)
    for k in range(16):
        assert peers.admit(sybil(k), f"http://127.0.0.1:{100 + k}") is not None
        s = peers.standing(sybil(k))
        s.delivered, s.delivered_at = MAX_DELIVERED, 0.0
    clock.now = 100.0
    assert peers.admit(HONEST, "http://127.0.0.1:2") is not None
    h = peers.standing(HONEST)
    h.delivered, h.delivered_at = MAX_DELIVERED, 100.0
    if traded_ago is not None:
        clock.now = 10_000.0 - traded_ago
        assert peers.traded(HONEST)
    clock.now = 10_000.0
    assert (HONEST in peers.leading(TOP, BAR)) == ahead
    assert len(peers.leading(TOP, BAR)) == TOP
