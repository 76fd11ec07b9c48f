"""chaos55: a match the contract refuses for the pair's amounts (``ZeroFillAmount``, which
names both orders) is not matched again until either order's filled amount changes.
chaos52 (seed 2, node 2): one pair, both partly filled after reorgs, was matched, refused,
released and matched again 7,876 times in 1.5 minutes (every ~10 ms)."""

from __future__ import annotations

from pathlib import Path

from sdex.matching import TimeInForce
from sdex.matching.match import Match
from sdex.model import OrderStatus
from sdex.node.core import Node
from sdex.node.heldrecord import Record
from sdex.order import SignedOrder
from sdex.settlement.outcome import Outcome, SettledMatch
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.sandwich import node_on
from tests.test_node import ALICE, BOB, E6, E18

GTC = TimeInForce.GTC


async def test_a_pair_refused_for_its_amounts_waits_for_a_change(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    c.usdc.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    ask = c.sign(c.order(ALICE, c.weth, E18 // 10, c.usdc, 250 * E6))
    buy = c.sign(c.order(BOB, c.usdc, 250 * E6, c.weth, E18 // 10))
    async with node_on(c, tmp_path) as (node, api):
        assert (await api.post_taken(ask))[0] == 201
        m = matched_alone(c, node, buy)
        refusal = (
            f"ZeroFillAmount(leftOrderHash=0x{ask.hash.hex()}, rightOrderHash=0x{buy.hash.hex()})"
        )
        await node._on_settled([SettledMatch(m, Outcome.FAILED, None, None, refusal)])
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)
        a, b = node.book.find(ask.hash), node.book.find(buy.hash)
        assert a is not None and b is not None
        # released, not matched again (before: matched again at once, as often as refused)
        assert (a.filled, a.pending, b.pending) == (0, 0, 0)
        assert not node.may_match(a, b)  # (both this node's: matched but for the refusal)
        assert await api.status(ask) == "open"
        node.book.set_filled(ask.hash, E18 // 100)  # its filled amount changed: tried again
        assert not node.refused_pairs.barred(a.hash, a.filled, b.hash, b.filled)
        node.book.set_filled(ask.hash, 0)  # and back: barred again (no swing frees it)
        assert not node.may_match(a, b)


def matched_alone(c: Chain, node: Node, buy: SignedOrder) -> Match:
    """``buy`` matched by the engine alone (its maker's funds as the chain says) and held
    as a wallet's order: its match is the test's, not the settler's."""
    node._set_funds(buy.order.maker, buy.order.maker_token, c.usdc.balance_of(buy.order.maker))
    (m,) = node.engine.submit(buy, now=node.chain_time()).matches
    node._seq += 1  # (a wallet's order, as ``_accept`` records it)
    rec = Record(buy, node._seq, "api", status=OrderStatus.OPEN, filled=0, tif=GTC)
    node.registry.admit(rec)
    return m
