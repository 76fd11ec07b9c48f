"""Differential: every match the engine proposes settles on the real Exchange, exactly.

Random signed orders from several dev accounts (awkward price ratios, fees to a fee
recipient, taker restrictions, partial fills, makers whose book funds are below their
balance) go through the ``MatchingEngine``; each proposed match is settled on the Hardhat
node with ``matchOrders`` (some) or ``batchMatchOrders`` (most, in batches), passing
``maxLeftFill = amounts.left_filled``. Every match must settle (no revert, no
``MatchSkipped``), the ``OrderFilled`` events must carry the engine's amounts and fees, and
after ``confirm`` the book's filled amount must equal ``getOrderInfo``'s.
"""

from __future__ import annotations

import random

import pytest

from sdex.book import OrderBook
from sdex.book.types import unit_of
from sdex.matching import Match, MatchingEngine, MatchResult, TimeInForce
from sdex.order import ZERO_ADDRESS, SignedOrder
from tests.conftest import Chain

OPERATOR = 0
MAKERS = [1, 2, 3, 4, 5, 6]
FEES = 9
E18, E6 = 10**18, 10**6


def random_order(c: Chain, rng: random.Random, now: int) -> tuple[SignedOrder, TimeInForce]:
    maker = rng.choice(MAKERS)
    # WETH amounts from one wei to a few WETH; prices around 2,000 USDC with odd ratios
    weth = rng.choice(
        [rng.randint(10**9, 10**13), rng.randint(1, 5 * E18), rng.randint(1, 50) * E18 // 7]
    )
    num, den = rng.choice([(2000, 1), (1999, 1), (2001, 1), (20011, 10), (6001, 3), (1997, 1)])
    usdc = max(1, weth * num * E6 // (den * E18) + rng.randint(-3, 3))
    if rng.random() < 0.5:  # ask: sell WETH
        sell, sell_amount, buy, buy_amount = c.weth, weth, c.usdc, usdc
    else:
        sell, sell_amount, buy, buy_amount = c.usdc, usdc, c.weth, weth
    fee = 0
    if rng.random() < 0.5:
        fee = rng.choice([1, buy_amount // 1000, rng.randint(0, buy_amount), buy_amount])
    taker = ZERO_ADDRESS
    if rng.random() < 0.1:
        taker = c.address(rng.choice(MAKERS))
    order = c.order(
        maker,
        sell,
        sell_amount,
        buy,
        buy_amount,
        taker=taker,
        fee_recipient=c.address(FEES) if fee else ZERO_ADDRESS,
        fee_amount=fee,
        expiry=now + 3600,
    )
    tif = rng.choice([TimeInForce.GTC] * 6 + [TimeInForce.IOC, TimeInForce.FOK])
    return c.sign(order), tif


def settle(c: Chain, matches: list[Match], rng: random.Random) -> list[tuple[Match, object]]:
    """Settle on chain: a few one by one with matchOrders, the rest in batches."""
    receipts: list[tuple[list[Match], object]] = []
    i = 0
    while i < len(matches):
        if rng.random() < 0.2:
            m = matches[i]
            r = c.exchange.match_orders(
                c.sender(OPERATOR), m.resting, m.incoming, max_left_fill=m.amounts.left_filled
            )
            receipts.append(([m], r))
            i += 1
        else:
            batch = matches[i : i + rng.randint(2, 25)]
            r = c.exchange.batch_match_orders(
                c.sender(OPERATOR),
                [(m.resting, m.incoming) for m in batch],
                gas=15_000_000,
                max_left_fills=[m.amounts.left_filled for m in batch],
            )
            receipts.append((batch, r))
            i += len(batch)
    out: list[tuple[Match, object]] = []
    for batch, receipt in receipts:
        assert c.exchange.skipped(receipt.logs) == []  # type: ignore[attr-defined]
        fills = c.exchange.fills(receipt.logs)  # type: ignore[attr-defined]
        assert len(fills) == 2 * len(batch)
        for k, m in enumerate(batch):
            left, right = fills[2 * k], fills[2 * k + 1]
            a = m.amounts
            assert (left.order_hash, right.order_hash) == (m.resting.hash, m.incoming.hash)
            assert (left.maker_filled, left.taker_filled, left.fee) == (
                a.left_filled,
                a.right_filled,
                a.left_fee,
            )
            assert (right.maker_filled, right.taker_filled, right.fee) == (
                a.right_filled,
                a.left_filled,
                a.right_fee,
            )
            out.append((m, receipt))
    return out


@pytest.mark.parametrize(
    ("seed", "zero"), [(s, False) for s in range(1, 9)] + [(s, True) for s in range(1, 5)]
)
def test_engine_matches_settle_exactly_on_chain(chain: Chain, seed: int, zero: bool) -> None:
    """(``zero``: a node's book with ``--min-amount X=0`` for both tokens, where resting
    orders are filled in whole units: dust34.)"""
    c = chain
    rng = random.Random(seed)
    now = c.now()
    book = OrderBook([(c.weth.address, c.usdc.address)])
    if zero:
        book.minimums = {c.weth.address.lower(): 0, c.usdc.address.lower(): 0}
    engine = MatchingEngine(book)
    # The book's view of each maker's funds: the real balance, or (for some makers) less, so
    # the engine caps matches by funds and the cap must hold on chain.
    for i in MAKERS:
        for token in (c.weth, c.usdc):
            spendable = token.balance_of(c.address(i))
            if rng.random() < 0.3:
                spendable = rng.randint(0, 3 * E18 if token is c.weth else 3000 * E6)
            book.set_funds(c.address(i), token.address, spendable)
    orders: dict[bytes, SignedOrder] = {}
    filled: dict[bytes, int] = {}
    closed: set[bytes] = set()  # closed by the engine: IOC/FOK remainders
    total = 0
    # rounds: later orders meet resting orders that are partly filled on chain
    for _ in range(4):
        results: list[MatchResult] = []
        for _ in range(50):
            signed, tif = random_order(c, rng, now)
            orders[signed.hash] = signed
            results.append(engine.submit(signed, now=now, tif=tif))
        results += engine.uncross(now=now)
        closed |= {r.order.hash for r in results if r.outcome.value in ("dropped", "filled")}
        closed |= {h for r in results for h, _ in r.removed}
        matches = [m for r in results for m in r.matches]
        total += len(matches)
        assert len(settle(c, matches, rng)) == len(matches)
        for m in matches:
            engine.confirm(m)
            filled[m.resting.hash] = filled.get(m.resting.hash, 0) + m.amounts.left_filled
            filled[m.incoming.hash] = filled.get(m.incoming.hash, 0) + m.amounts.right_filled
        # the book and the chain agree on every order's filled amount
        touched = [orders[h] for h in filled]
        for so, st in zip(touched, c.exchange.order_states(touched), strict=True):
            assert st.filled == filled[so.hash], so.hash.hex()
            view = book.get(so.hash)
            if view is None:  # forgotten: filled in full, closed by the engine, or dust left
                o = so.order
                dust = o.maker_amount - st.filled < unit_of(o.maker_amount, o.taker_amount)
                assert st.filled == o.maker_amount or so.hash in closed or dust
            else:
                assert view.filled == st.filled and view.pending == 0
    # (orders of a few thousand wei are dust at these prices: they never rest, nor trade)
    assert total >= 25, f"the scenario should cross often, got {total} matches"
