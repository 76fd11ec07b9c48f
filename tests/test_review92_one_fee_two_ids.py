"""review92: stand89's cost of an id's standing (``alike``: "an id's standing costs a trade an
hour that paid this node its fee on at least its minimum") is half that: a match's two fills
are credited when either paid (``readbudget.paid_here``: the fill or its mate), and each
fill's order credits the peer that delivered it first (``credit_trades``). A sybil whose ask
is pushed by one id and whose crossing bid, paying this node's fee once, by another gets both
ids standing for one fee: exactly ``LEAST_TRADED`` (2), the others with standing whose
charges then make the medians alone.

What a fix needs (a design choice, left to the planner): one credit per fee paid, e.g. of a
mated pair of which one fill paid, the other side's peer credited (the order taken: an honest
relay's resting ask taken by a wallet's paying bid keeps its credit) and the payer's only if
the other side has no peer source; or the cost stated as half a fee an id and
``LEAST_TRADED`` raised. Pure rule over the chain's fills (``paid_here``) and a real
``Peers`` table, as peers80's table.

stand92 chose the first: of a match one fill paid, the other side's order (the one the payer
took or was taken by) credits its peer, or the payer's if no peer delivered that one
(``paid_here``'s ``pushed``); each fill that paid, one credit."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sdex.chain import FillEvent
from sdex.errors import TransactionFailed
from sdex.gossip.alike import LEAST_TRADED
from sdex.gossip.peers import Peers
from sdex.node.readbudget import PEER_SOURCE, credit_trades, paid_here
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_checks75_held_reads import done, push
from tests.test_node import CAROL, DAVE, E6, E18, ask, bid
from tests.test_peers80_paid_credit import A1, A2, ASK, ORDERS, US, fill, order, settled_seen
from tests.test_sybil78_traded_first import OPERATOR, charging, fee_of

SYBIL_ASK, SYBIL_BID = "0x" + "5a" * 20, "0x" + "5b" * 20


def test_one_fee_paid_buys_one_ids_standing() -> None:
    peers = Peers("0x" + "01" * 32, "http://127.0.0.1:1")
    for i, key in enumerate((SYBIL_ASK, SYBIL_BID)):
        assert peers.admit(key, f"http://127.0.0.1:{2 + i}") is not None
    gossip: Any = SimpleNamespace(peers=peers)
    bid = fill(2, A2, A1, 1000, 10, US, 3, 1)  # (the bid pays this node's fee, the ask none)
    paid = paid_here([ASK, bid], lambda h: ORDERS.get(h[0]), (US, 30))
    source = {1: PEER_SOURCE + SYBIL_ASK, 2: PEER_SOURCE + SYBIL_BID}
    credited = credit_trades(gossip, [(source[f.order_hash[0]], f.block_number) for f in paid])
    standing = [k for k in (SYBIL_ASK, SYBIL_BID) if peers.has_traded(k)]
    assert credited == len(standing)
    # main: both ids (LEAST_TRADED of them) for the one fee
    assert len(standing) < LEAST_TRADED, standing
    assert credited == 1


PAYING_ASK = fill(1, A1, A2, 10, 1000, US, 3, 0)  # (an ask that pays this node's fee too)


@pytest.mark.parametrize(
    ("fills", "pushed", "credited"),
    [
        ([ASK, fill(2, A2, A1, 1000, 10, US, 3, 1)], {1, 2}, {1}),  # (the ask taken)
        ([ASK, fill(2, A2, A1, 1000, 10, US, 3, 1)], {2}, {2}),  # (no peer's: the payer's)
        ([ASK, fill(2, A2, A1, 1000, 10, US, 3, 1)], set(), {2}),  # (neither: as before)
        ([PAYING_ASK, fill(2, A2, A1, 1000, 10, US, 3, 1)], {1, 2}, {1, 2}),  # (two fees)
        ([fill(2, A2, A1, 1000, 10, US, 3, 1)], {2}, {2}),  # (a ``fillOrder``'s one)
    ],
)
def test_each_fee_paid_credits_one_fill(
    fills: list[FillEvent], pushed: set[int], credited: set[int]
) -> None:
    """``paid_here``'s choice of a match's one paying fill: the other side if a peer
    delivered it (``pushed``), else the payer; both when both paid."""
    orders = {**ORDERS, 1: order(US, 3)}
    got = paid_here(fills, lambda h: orders.get(h[0]), (US, 30), pushed=lambda h: h[0] in pushed)
    assert {f.order_hash[0] for f in got} == credited


async def test_a_sybils_two_ids_self_trade_credits_one(chain: Chain, tmp_path: Path) -> None:
    """On a real chain and node asking a fee: the sybil's id 1 pushes CAROL's ask (no fee
    here), its id 2 DAVE's crossing bid paying this node's fee, and the two are matched on
    the chain: one id credited, the ask's (the order the payer took), not both (before:
    both, ``LEAST_TRADED`` ids' standing for one fee)."""
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db", OPERATOR))
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        sell = c.sign(ask(c, CAROL, E18, 3100 * E6))
        buy = c.sign(bid(c, DAVE, E18, 3100 * E6, **fee_of(c, E18)))
        for key, signed in ((SYBIL_ASK, sell), (SYBIL_BID, buy)):
            task = push(g, key, signed)
            await wait_for(done(task), 30)
            assert task.result()["accepted"] == 1, task.result()
        with suppress(TransactionFailed):  # (the node matched them itself: its fills)
            assert c.exchange.match_orders(c.sender(CAROL), sell, buy).status == 1
        await settled_seen(node, api, 2)
        await wait_for(lambda: g.peers.standing(SYBIL_ASK).traded == 1, 60)
        assert g.peers.standing(SYBIL_BID).traded == 0  # (before: 1)
        assert [g.peers.has_traded(k) for k in (SYBIL_ASK, SYBIL_BID)] == [True, False]
