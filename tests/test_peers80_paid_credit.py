"""peers80: a trade credits the peer that delivered its order first (``Peers.traded``: an
hour ranked first) only when its match paid this node its fee (``readbudget.paid_here``).

sybil78 credited every fill of an order a peer delivered first, "each place costs them a
settlement's gas an hour"; but a sybil key that pushes an ask of one of its accounts and
posts the crossing bid from another (to this node asking no fee, or to any other node)
pays no gas: the operator of the node it posted to settles it. It ranked
first for ``TRADED_SECONDS`` for nothing. Now only a match that paid this node's fee
recipient at this node's rate credits: a self-trade costs its maker that fee.

Real nodes on a real Hardhat, their wallet APIs on loopback: the sybil's self-trade settled
by the node's operator at no fee (its bid posted to the node, asking none), or by another
relayer's (its bid posted to another node, asking none; this one asks 30 bps), credits
nothing; an honest peer's ask taken by a wallet's bid that pays
the node's fee is credited and ranks first. And ``paid_here`` table-driven."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain import FillEvent
from sdex.gossip.standings import MAX_DELIVERED
from sdex.node import Node
from sdex.node.readbudget import paid_here
from sdex.order import Order
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_checks75_held_reads import HONEST, done, push, rested
from tests.test_node import BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_sybil78_traded_first import BAR, OPERATOR, TOP, charging, fee_of, sybil

SYBIL = "0x" + "5e" * 20
"""The sybil key: it delivers its own accounts' orders (CAROL's ask, DAVE's bid)."""


async def leaders_first(c: Chain, node: Node) -> None:
    """``TOP`` peers at the cap, delivering since 100 s before the peers the test pushes."""
    g = node.gossip
    assert g is not None
    for k in range(TOP):
        task = push(g, sybil(k), c.sign(ask(c, BOB, E18 + k, (4000 + k) * E6)))
        await wait_for(done(task), 30)
        assert task.result()["accepted"] == 1, task.result()
        g.peers.standing(sybil(k)).delivered_at -= 100.0


async def settled_seen(node: Node, api: Api, fills: int) -> None:
    """Until ``/v1/fills`` holds ``fills`` records and the watcher has applied their blocks
    (where a fill is credited or not)."""

    async def listed() -> bool:
        code, body = await api.get("/v1/fills")
        assert code == 200, body
        return len(body["records"]) >= fills

    await wait_for(listed, 90)
    _, body = await api.get("/v1/fills")
    top = max(int(f["blockNumber"]) for f in body["records"])
    await wait_for(lambda: (a := node.watcher.applied) is not None and a.number >= top, 60)


async def test_a_sybils_self_trade_settled_here_for_no_fee_is_not_credited(
    chain: Chain, tmp_path: Path
) -> None:
    """The sybil pushes CAROL's ask, then posts DAVE's crossing bid to this node's wallet
    API, the node asking no fee: the node's operator settles it, and the sybil is not
    ranked first (before: ``traded`` 1, among the top 8)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", OPERATOR)) as (node, api):
        g = node.gossip
        assert g is not None
        await leaders_first(c, node)
        resting = push(g, SYBIL, c.sign(ask(c, CAROL, E18, 3100 * E6)))
        await wait_for(done(resting), 30)
        assert resting.result()["accepted"] == 1, resting.result()
        await api.post_matched(c.sign(bid(c, DAVE, E18, 3100 * E6)))
        await settled_seen(node, api, 2)
        assert g.peers.standing(SYBIL).traded == 0  # (before: 1)
        g.peers._leaders.stale()
        assert SYBIL not in g.peers.leading(TOP, BAR)


async def test_a_self_trade_another_relayer_settled_for_no_fee_here_is_not_credited(
    chain: Chain, tmp_path: Path
) -> None:
    """This node asks ``FEE_BPS``; the sybil pushes CAROL's ask to it and to another node
    (asking none, its own operator), and posts DAVE's crossing bid to that one, which
    settles it: this node sees the fill and does not rank the sybil first (before: it
    did, the other relayer's gas bought it)."""
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db", OPERATOR))
    async with (
        running_node(cfg) as (node, _api),
        running_node(node_config(c, tmp_path / "other.db", OPERATOR - 1)) as (other, other_api),
    ):
        g, og = node.gossip, other.gossip
        assert g is not None and og is not None
        await leaders_first(c, node)
        sell = c.sign(ask(c, CAROL, E18, 3100 * E6))
        for gossip in (g, og):
            resting = push(gossip, SYBIL, sell)
            await wait_for(done(resting), 30)
            assert resting.result()["accepted"] == 1, resting.result()
        code, body = await other_api.post_order(c.sign(bid(c, DAVE, E18, 3100 * E6)))
        assert code == 201 and len(body["matches"]) == 1, body
        await settled_seen(other, other_api, 2)
        _, fills = await other_api.get("/v1/fills")
        top = max(int(f["blockNumber"]) for f in fills["records"])
        await wait_for(lambda: (a := node.watcher.applied) is not None and a.number >= top, 60)
        assert g.peers.standing(SYBIL).traded == 0  # (before: 1)
        g.peers._leaders.stale()
        assert SYBIL not in g.peers.leading(TOP, BAR)
        assert og.peers.standing(SYBIL).traded == 0  # (nor there: it asks no fee)


async def test_an_honest_trade_that_paid_the_fee_is_credited(chain: Chain, tmp_path: Path) -> None:
    """The honest peer's ask (no fee of its own to this node) taken by a wallet's bid that
    pays this node's fee: the honest peer is credited and among the top 8."""
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db", OPERATOR))
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await leaders_first(c, node)
        await rested(g, c.sign(ask(c, CAROL, E18, 3100 * E6)))
        assert g.peers.standing(HONEST).delivered == MAX_DELIVERED
        await api.post_matched(c.sign(bid(c, DAVE, E18, 3100 * E6, **fee_of(c, E18))))
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 60)
        await wait_for(lambda: HONEST in g.peers.leading(TOP, BAR), 30)


US = "0x" + "19" * 20
OTHER = "0x" + "77" * 20
A1, A2 = "0x" + "a1" * 20, "0x" + "a2" * 20


def order(fee_to: str, fee: int, taker_amount: int = 1000) -> Order:
    return Order(A1, "0x" + "00" * 20, OTHER, US, 10, taker_amount, fee_to, fee, 2**40, 1)


def fill(h: int, maker: str, taker: str, gave: int, got: int, fee_to: str, fee: int,
         log: int, tx: str = "0x01") -> FillEvent:  # fmt: skip
    return FillEvent(bytes([h]) * 32, maker, taker, gave, got, fee_to, fee, 7, tx, log)


ASK = fill(1, A1, A2, 10, 1000, OTHER, 0, 0)  # (the peer's ask: no fee to us)
ORDERS = {
    2: order(US, 3),  # (the bid: 30 bps of its takerAmount 1000, to us)
    3: order(US, 2),  # (below this node's rate)
    4: order(OTHER, 3),  # (to another recipient)
}


@pytest.mark.parametrize(
    ("fills", "bps", "paid"),
    [
        ([ASK, fill(2, A2, A1, 1000, 10, US, 3, 1)], 30, {1}),  # (one fee: the ask taken)
        ([ASK, fill(2, A2, A1, 1000, 10, US, 3, 1)], 0, set()),  # (a node asking no fee)
        ([ASK, fill(1, A2, A1, 1000, 10, OTHER, 0, 1)], 30, set()),  # (no fee: a self-trade)
        ([ASK, fill(3, A2, A1, 1000, 10, US, 2, 1)], 30, set()),  # (below the rate)
        ([ASK, fill(4, A2, A1, 1000, 10, OTHER, 3, 1)], 30, set()),  # (paid someone else)
        ([ASK, fill(2, A2, A1, 1000, 10, US, 0, 1)], 30, set()),  # (its fill paid nothing)
        ([ASK, fill(9, A2, A1, 1000, 10, US, 3, 1)], 30, set()),  # (its order not held here)
        ([ASK, fill(2, A2, A1, 1000, 10, US, 3, 1, tx="0x02")], 30, {2}),  # (another tx's)
        ([ASK, fill(2, A2, A1, 1000, 10, US, 3, 2)], 30, {2}),  # (not back to back)
        ([ASK, fill(2, A2, A1, 999, 10, US, 3, 1)], 30, {2}),  # (not what the ask gave)
        ([ASK, fill(2, A2, OTHER, 1000, 10, US, 3, 1)], 30, {2}),  # (not the ask's maker)
        (  # a batch: a paying match, then a zero-fee one between the same accounts
            [
                ASK,
                fill(2, A2, A1, 1000, 10, US, 3, 1),
                fill(5, A1, A2, 10, 1000, OTHER, 0, 2),
                fill(6, A2, A1, 1000, 10, OTHER, 0, 3),
            ],
            30,
            {1},
        ),
    ],
)
def test_paid_here_credits_only_a_match_that_paid_this_node(
    fills: list[FillEvent], bps: int, paid: set[int]
) -> None:
    def order_of(h: bytes) -> Order | None:
        return ORDERS.get(h[0])

    got = paid_here(fills, order_of, (US, bps))
    assert {f.order_hash[0] for f in got} == paid
