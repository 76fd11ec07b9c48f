"""review38: WETH9's ``withdraw`` and ``deposit`` move a balance with a ``Withdrawal`` or
``Deposit`` log, no ``Transfer``; the mirror re-read an account's funds only for ``Transfer``
and ``Approval``, so the book kept a maker's unwrapped WETH as its funds (an order shown
fillable that every settlement then failed on), and a maker who wrapped ETH to fund an
unfunded order never had it back. Now any other log of a listed token naming an account in
an indexed topic has the account read again.
"""

from __future__ import annotations

from pathlib import Path

from sdex.chain.exchange import Token
from sdex.deployment import TokenInfo
from tests.conftest import Chain
from tests.sandwich import listing, unfunded_and_back
from tests.test_node import BOB, E6, E18
from tests.test_review38_weth_sandwich import WETH9, weth9


async def test_weth9_withdraw_unfunds_and_deposit_refunds_an_order(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    w = weth9(c)  # (BOB: 1 WETH9, approved)
    bob = c.sender(BOB)
    ask = c.sign(c.order(BOB, Token(c.rpc, w), E18 // 10, c.usdc, 250 * E6))
    await unfunded_and_back(
        c,
        tmp_path,
        ask,
        listing({"WETH": TokenInfo(w, 18), "USDC": None}),
        lambda: bob.wait(bob.send(w, WETH9.fn("withdraw").encode(E18), 100_000)),
        lambda: bob.wait(bob.send(w, WETH9.fn("deposit").encode(), 100_000, value=E18)),
    )
