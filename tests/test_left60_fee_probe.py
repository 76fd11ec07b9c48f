"""left60 (a finding checked, not a defect): "the fee probe reads only the first fee
recipient". ``refusal._fee_refused`` probes both fees of a match in the Exchange's order
(``matchOrders``: the right (incoming) order's fee, paid by the left maker, then the left's):
the second recipient is probed whenever the first fee moves, and a first fee refused is the
transfer the settlement reverts at, so the second is never reached on chain either. Here
both orders pay a fee, the second recipient is the one its token refuses: it is named."""

from __future__ import annotations

from sdex.book.types import Side
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.settlement.refusal import refusals
from tests.conftest import Chain
from tests.test_attack48_fee_receiver import fee_pair
from tests.test_node import ALICE, E6, E18

BID_SINK = 8
"""The recipient of the bid's fee (in WETH, which credits anyone)."""


def test_the_second_fee_recipient_is_probed_too(chain: Chain) -> None:
    c = chain
    rgt, _, ask = fee_pair(c, True, 250 * E6)
    bid = c.sign(
        c.order(
            ALICE, rgt, 250 * E6, c.weth, E18 // 10,
            fee_recipient=c.address(BID_SINK), fee_amount=E18 // 1000,
        )
    )  # fmt: skip
    # the ask rests: Bob pays the bid's fee (WETH, to BID_SINK: moves) first, then Alice
    # the ask's (RGT, to FEE_SINK: refused)
    m = Match(ask, bid, MatchAmounts(E18 // 10, 250 * E6, E6, E18 // 1000), Side.BID)
    at = hex(int(c.rpc.call("eth_blockNumber"), 16))
    raw = {s.hash: s for s in c.exchange.order_states([bid, ask], at)}
    got = refusals(c.rpc, c.exchange.address, [m], at, raw, set(), {}, {})
    assert got == {(ask.hash, bid.hash): ask.hash}
