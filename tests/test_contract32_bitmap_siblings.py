"""Bitmap orders that share a nonce (a wallet must not sign two, but the contract must still
never let one be filled past what its maker signed, nor reopen a closed one).

review31 found: after one order of a nonce was filled whole (the nonce's bits say "filled
whole", no fill slot written), ``cancelOrder`` of a same-nonce sibling set the bits to "read
the slot", and the order filled whole then read FILLABLE with 0 filled and was filled a
second time: its maker gave twice what it signed.

The property test drives three same-nonce orders of one maker through random fills (whole,
partial, past what is left) and cancels on the real chain and checks, after every step,
that no order's filled amount ever falls, none is filled past its amount (summed from its
own ``OrderFilled`` events), and none that was closed (filled or cancelled) opens again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdex.chain import OrderStatus
from sdex.errors import ExchangeError
from sdex.order import SignedOrder, bitmap_salt
from tests.conftest import Chain, chain_of

MAKER, TAKER = 8, 9
WETH, USDC = 10**18, 10**6
NONCE = 91
PRICES = (3000, 3100, 3200)  # USDC per WETH of the three siblings
EXAMPLES = int(os.environ.get("SDEX_CONTRACT32_EXAMPLES", "12"))


def siblings(c: Chain) -> list[SignedOrder]:
    return [
        c.sign(
            c.order(MAKER, c.weth, WETH, c.usdc, p * USDC, salt=bitmap_salt(NONCE), expiry=2**40)
        )
        for p in PRICES
    ]


def test_cancelling_a_sibling_leaves_an_order_filled_whole_filled(chain: Chain) -> None:
    c = chain
    a, b, _ = siblings(c)
    c.exchange.fill_order(c.sender(TAKER), b, b.order.taker_amount)
    assert c.exchange.order_info(b.order).filled == WETH
    c.exchange.cancel_order(c.sender(MAKER), a.order)
    info = c.exchange.order_info(b.order)
    assert (info.status, info.filled) == (OrderStatus.FILLED, WETH)
    a_info = c.exchange.order_info(a.order)
    assert a_info.status == OrderStatus.CANCELLED
    with pytest.raises(ExchangeError) as e:
        c.exchange.fill_order(c.sender(TAKER), b, b.order.taker_amount)
    assert e.value.name == "OrderNotFillable"
    states = c.exchange.order_states([a, b])
    assert [(s.status, s.filled) for s in states] == [
        (OrderStatus.CANCELLED, WETH),
        (OrderStatus.FILLED, WETH),
    ]


def test_a_partly_filled_sibling_is_not_reopened_by_later_fills_and_cancels(chain: Chain) -> None:
    c = chain
    a, b, d = siblings(c)
    c.exchange.fill_order(c.sender(TAKER), a, a.order.taker_amount // 3)  # a's slot: 1/3 filled
    c.exchange.fill_order(c.sender(TAKER), b, b.order.taker_amount)  # b filled whole
    c.exchange.cancel_order(c.sender(MAKER), d.order)
    assert c.exchange.order_info(b.order).status == OrderStatus.FILLED
    assert c.exchange.order_info(d.order).status == OrderStatus.CANCELLED
    a_info = c.exchange.order_info(a.order)
    assert a_info.filled >= WETH // 3 and a_info.filled <= WETH


@dataclass
class Seen:
    filled: int = 0
    closed: bool = False
    cancelled: bool = False
    events: int = 0  # maker amount summed over this order's own OrderFilled events


OPS = st.lists(
    st.tuples(st.sampled_from(("whole", "third", "past", "cancel")), st.integers(0, 2)),
    min_size=1,
    max_size=7,
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=OPS)
def test_same_nonce_orders_never_overfill_or_reopen(
    chain: Chain, ops: list[tuple[str, int]]
) -> None:
    snap = chain.rpc.call("evm_snapshot")
    c = chain_of(chain.rpc, chain.deployment)  # fresh nonce lanes: each example reverts
    try:
        orders = siblings(c)
        hashes = [c.exchange.order_info(o.order).hash for o in orders]
        seen = [Seen() for _ in orders]
        for op, i in ops:
            o = orders[i]
            try:
                if op == "cancel":
                    receipt = c.exchange.cancel_order(c.sender(MAKER), o.order)
                else:
                    amount = {
                        "whole": o.order.taker_amount,
                        "third": o.order.taker_amount // 3,
                        "past": 2 * o.order.taker_amount,
                    }[op]
                    receipt = c.exchange.fill_order(c.sender(TAKER), o, amount)
            except ExchangeError:
                continue  # refused: nothing changed
            for f in c.exchange.fills(receipt.logs):
                seen[hashes.index(f.order_hash)].events += f.maker_filled
            for k, (sib, s) in enumerate(zip(orders, seen, strict=True)):
                info = c.exchange.order_info(sib.order)
                assert s.events <= sib.order.maker_amount, (ops, k, "overfilled")
                assert info.filled >= s.filled, (ops, k, "filled amount fell")
                closed = info.status in (OrderStatus.FILLED, OrderStatus.CANCELLED)
                assert closed or not s.closed, (ops, k, "a closed order reopened", info)
                assert info.status == OrderStatus.CANCELLED or not s.cancelled, (ops, k, info)
                s.filled = info.filled
                s.closed = closed
                s.cancelled = info.status == OrderStatus.CANCELLED
    finally:
        assert c.rpc.call("evm_revert", snap) is True
