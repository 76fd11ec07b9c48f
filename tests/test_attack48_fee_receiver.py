"""attack48: an order whose ``feeRecipient`` its fee's token refuses to credit (a token's
blacklist or allowlist of receivers, as USDC's) fails every settlement of it, and nobody
was blamed: blame44's probe tried only the two maker-to-maker legs, which move, never the
fee legs. The pair was barred after three failures and the order stayed for the next
honest counterparty: each one more reverted settlement paid by the operator."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.book.types import Side
from sdex.chain.exchange import Token
from sdex.deployment import TokenInfo
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.order import SignedOrder
from sdex.settlement.refusal import refusals as _refusals
from tests.conftest import Chain
from tests.sandwich import listing, node_on
from tests.test_blame44_refused_receiver import ask_blamed, gate_token, refuse
from tests.test_node import ALICE, BOB, E6, E18

FEE_SINK = 7
"""The account Bob names as his ask's fee recipient (RGT refuses to credit it)."""


def fee_pair(c: Chain, sink_refused: bool, bid_pays: int) -> tuple[Token, SignedOrder, SignedOrder]:
    """RGT; Alice's bid paying ``bid_pays`` RGT for 0.1 WETH, and Bob's ask selling 0.1 WETH
    for 250 RGT with a fee of 1 RGT to ``FEE_SINK`` (refused by RGT if ``sink_refused``)."""
    rgt = gate_token(c)
    c.weth.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    if sink_refused:
        refuse(c, rgt, FEE_SINK)
    bid = c.sign(c.order(ALICE, rgt, bid_pays, c.weth, E18 // 10))
    ask = c.sign(
        c.order(
            BOB, c.weth, E18 // 10, rgt, 250 * E6,
            fee_recipient=c.address(FEE_SINK), fee_amount=E6,
        )
    )  # fmt: skip
    return rgt, bid, ask


async def test_an_order_whose_fee_recipient_is_refused_is_blamed(
    chain: Chain, tmp_path: Path
) -> None:
    """Alice's bid pays in RGT for WETH; Bob's ask sells WETH for RGT with a fee in RGT to
    an address RGT refuses to credit: his ask is removed (before: open, the pair barred),
    Alice's bid stays open and Alice is not blamed."""
    c = chain
    rgt, bid, ask = fee_pair(c, True, 260 * E6)
    async with node_on(
        c, tmp_path, tokens=listing({"WETH": None, "RGT": TokenInfo(rgt.address, 6)})
    ) as (node, api):
        assert (await api.post_order(bid))[0] == 201
        assert (await api.post_order(ask))[0] == 201
        await ask_blamed(c, node, api, bid, ask)


@pytest.mark.parametrize("ask_rests", [False, True])
@pytest.mark.parametrize("sink_refused", [False, True])
def test_the_fee_probe_names_the_order_whose_fee_recipient_is_refused(
    chain: Chain, ask_rests: bool, sink_refused: bool
) -> None:
    """Bob's ask pays its fee in RGT (its taker token) to ``FEE_SINK``: named when RGT
    refuses to credit that address, whichever side of the match the ask is; else nobody."""
    c = chain
    _, bid, ask = fee_pair(c, sink_refused, 250 * E6)
    if ask_rests:
        m = Match(ask, bid, MatchAmounts(E18 // 10, 250 * E6, E6, 0), Side.BID)
    else:
        m = Match(bid, ask, MatchAmounts(250 * E6, E18 // 10, 0, E6), Side.ASK)
    at = hex(int(c.rpc.call("eth_blockNumber"), 16))
    raw = {s.hash: s for s in c.exchange.order_states([bid, ask], at)}
    got = _refusals(c.rpc, c.exchange.address, [m], at, raw, set(), {}, {})
    assert got == ({(m.resting.hash, m.incoming.hash): ask.hash} if sink_refused else {})
