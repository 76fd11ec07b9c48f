"""Bitmap orders (salt tag SDEXBITS), the inline batch and its per-match fallback, and the
gas of every settlement function pinned within ±1% (Uniswap v2-core ``swap:gas`` style).

The pinned figures are deterministic for these fixed orders; a change that costs more gas
fails here, and one that saves gas fails too until the pin (and docs/BENCHMARKS.md, from
bench/gas.py) is updated on purpose.
"""

from __future__ import annotations

import pytest

from sdex.chain import OrderStatus, Token, deploy, load_abi
from sdex.errors import ExchangeError
from sdex.order import SignedOrder, bitmap_nonce, bitmap_salt, random_salt
from tests.conftest import Chain

E18, E6 = 10**18, 10**6
OPERATOR, ALICE, BOB, CAROL, DAVE = 0, 1, 2, 3, 4


def ask(c: Chain, maker: int, weth: int, usdc: int, salt: int) -> SignedOrder:
    return c.sign(c.order(maker, c.weth, weth, c.usdc, usdc, salt=salt, expiry=2**40))


def bid(c: Chain, maker: int, weth: int, usdc: int, salt: int) -> SignedOrder:
    return c.sign(c.order(maker, c.usdc, usdc, c.weth, weth, salt=salt, expiry=2**40))


# -- bitmap orders ---------------------------------------------------------------------


def test_bitmap_salt_round_trip_and_bounds() -> None:
    s = bitmap_salt(5)
    assert bitmap_nonce(s) == 5 and s >> 192 == 0x5344455842495453
    assert bitmap_nonce(random_salt() >> 64) is None  # an ordinary salt carries no tag
    with pytest.raises(ValueError):
        bitmap_salt(2**192)


def test_bitmap_order_filled_whole_reads_filled(chain: Chain) -> None:
    c = chain
    left, right = (
        ask(c, ALICE, E18, 3000 * E6, bitmap_salt(0)),
        bid(c, BOB, E18, 3000 * E6, bitmap_salt(0)),
    )
    c.exchange.match_orders(c.sender(OPERATOR), left, right)
    for o in (left, right):
        info = c.exchange.order_info(o.order)
        assert (info.status, info.filled) == (OrderStatus.FILLED, o.order.maker_amount)
    # the neighbour nonce of the same maker is untouched
    fresh = ask(c, ALICE, E18, 3000 * E6, bitmap_salt(1))
    assert c.exchange.order_info(fresh.order).status == OrderStatus.FILLABLE
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders(
            c.sender(OPERATOR), left, bid(c, CAROL, E18, 3000 * E6, bitmap_salt(0))
        )
    assert e.value.name == "OrderNotFillable"


def test_bitmap_order_partial_fills_use_its_slot(chain: Chain) -> None:
    c = chain
    resting = ask(c, ALICE, 3 * E18, 9000 * E6, bitmap_salt(7))
    for n, taker in enumerate((BOB, CAROL, DAVE), start=1):
        c.exchange.match_orders(
            c.sender(OPERATOR), resting, bid(c, taker, E18, 3000 * E6, bitmap_salt(n))
        )
        info = c.exchange.order_info(resting.order)
        assert info.filled == n * E18
    assert c.exchange.order_info(resting.order).status == OrderStatus.FILLED
    states = c.exchange.order_states([resting])
    assert (states[0].status, states[0].filled) == (OrderStatus.FILLED, 3 * E18)


def test_bitmap_order_cancel_fresh_partial_and_filled(chain: Chain) -> None:
    c = chain
    fresh = ask(c, ALICE, E18, 3000 * E6, bitmap_salt(300))  # another word (nonce >> 7 == 2)
    c.exchange.cancel_order(c.sender(ALICE), fresh.order)
    assert c.exchange.order_info(fresh.order).status == OrderStatus.CANCELLED
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders(
            c.sender(OPERATOR), fresh, bid(c, BOB, E18, 3000 * E6, bitmap_salt(0))
        )
    assert e.value.name == "OrderNotFillable"

    partial = ask(c, ALICE, 2 * E18, 6000 * E6, bitmap_salt(301))
    c.exchange.match_orders(
        c.sender(OPERATOR), partial, bid(c, BOB, E18, 3000 * E6, bitmap_salt(1))
    )
    c.exchange.cancel_order(c.sender(ALICE), partial.order)
    info = c.exchange.order_info(partial.order)
    assert (info.status, info.filled) == (OrderStatus.CANCELLED, E18)

    whole = ask(c, ALICE, E18, 3000 * E6, bitmap_salt(302))
    c.exchange.match_orders(c.sender(OPERATOR), whole, bid(c, BOB, E18, 3000 * E6, bitmap_salt(2)))
    receipt = c.exchange.cancel_order(c.sender(ALICE), whole.order)
    assert receipt.logs  # OrderCancelled emitted
    info = c.exchange.order_info(whole.order)
    assert (info.status, info.filled) == (OrderStatus.CANCELLED, E18)  # the amount keeps the truth
    c.exchange.cancel_order(c.sender(ALICE), whole.order)  # idempotent
    assert c.exchange.order_info(whole.order).status == OrderStatus.CANCELLED


def test_bitmap_orders_obey_cancel_orders_up_to(chain: Chain) -> None:
    c = chain
    o = ask(c, ALICE, E18, 3000 * E6, bitmap_salt(9))
    c.exchange.cancel_orders_up_to(c.sender(ALICE), bitmap_salt(10))
    assert c.exchange.order_info(o.order).status == OrderStatus.CANCELLED
    assert c.exchange.order_info(ask(c, ALICE, E18, 3000 * E6, bitmap_salt(10)).order).status == (
        OrderStatus.FILLABLE
    )


# -- the batch: inline, and the per-match fallback when a token reverts ------------------


def _false_token(c: Chain) -> Token:
    t = Token(c.rpc, deploy(c.sender(OPERATOR), "FalseReturnToken"))
    t.abi = load_abi("FalseReturnToken")
    for who in (ALICE, BOB):
        t.send(c.sender(OPERATOR), "mint", c.address(who), 1000 * E18)
        t.send(c.sender(who), "approve", c.deployment.exchange, 2**256 - 1)
    return t


def test_batch_token_failure_skips_only_that_match(chain: Chain) -> None:
    c = chain
    bad = _false_token(c)
    good1 = (
        ask(c, ALICE, E18, 3000 * E6, random_salt()),
        bid(c, BOB, E18, 3000 * E6, random_salt()),
    )
    broken = (
        c.sign(c.order(ALICE, c.weth, E18, bad, 3000 * E18)),
        c.sign(c.order(BOB, bad, 3000 * E18, c.weth, E18)),
    )
    good2 = (
        ask(c, CAROL, E18, 3000 * E6, bitmap_salt(0)),
        bid(c, DAVE, E18, 3000 * E6, bitmap_salt(0)),
    )
    stale = (good1[0], bid(c, DAVE, E18, 3000 * E6, random_salt()))  # good1's left is used up
    receipt = c.exchange.batch_match_orders(c.sender(OPERATOR), [good1, broken, good2, stale])
    fills = c.exchange.fills(receipt.logs)
    assert [f.order_hash for f in fills] == [o.hash for o in (*good1, *good2)]
    skipped = c.exchange.skipped(receipt.logs)
    assert [(s.index, s.left_hash, s.right_hash) for s in skipped] == [
        (1, broken[0].hash, broken[1].hash),
        (3, stale[0].hash, stale[1].hash),
    ]
    assert isinstance(skipped[0].reason, ExchangeError)
    assert skipped[0].reason.name == "SafeERC20FailedOperation"
    assert (
        isinstance(skipped[1].reason, ExchangeError)
        and skipped[1].reason.name == "OrderNotFillable"
    )
    assert c.exchange.order_info(broken[0].order).filled == 0
    assert bad.balance_of(c.address(ALICE)) == 1000 * E18


@pytest.mark.parametrize("fn", ["settleMatch", "settleBatch"])
def test_self_entry_points_refuse_others(chain: Chain, fn: str) -> None:
    c = chain
    left, right = ask(c, ALICE, E18, 3000 * E6, 1), bid(c, BOB, E18, 3000 * E6, 2)
    args: tuple[object, ...]
    if fn == "settleMatch":
        args = (left.order.to_tuple(), left.signature, right.order.to_tuple(), right.signature, E18)
    else:
        args = (
            [left.order.to_tuple(), right.order.to_tuple()],
            [left.signature, right.signature],
            [(0, 1, E18)],
        )
    with pytest.raises(ExchangeError) as e:
        c.exchange._transact(c.sender(BOB), fn, *args)
    assert e.value.name == "OnlySelf"


# -- gas pinned within ±1% ---------------------------------------------------------------

GAS = {
    "fillOrder": 97_352,
    "matchOrders": 137_029,
    "matchOrders_bitmap_returning": 104_131,
    "batchMatchOrders_20_bitmap_warm_per_match": 38_679,
    "cancelOrder": 48_487,
    "cancelOrdersUpTo": 45_172,
}


def _check_pins(measured: dict[str, int]) -> None:
    """Every figure within ±1% of its pin; the message lists all of them, so one run gives
    every new figure when a change moves gas on purpose."""
    assert measured.keys() == GAS.keys()
    off = {k: v for k, v in measured.items() if abs(v - GAS[k]) > GAS[k] // 100}
    assert not off, "gas off its pin (±1%): " + ", ".join(
        f"{k} {v:,} (pinned {GAS[k]:,})" for k, v in measured.items()
    )


def test_gas_pinned(chain: Chain) -> None:
    c = chain
    x = c.exchange
    gas: dict[str, int] = {}
    # first fills of two ordinary orders (salts fixed: calldata gas depends on zero bytes)
    r = x.match_orders(
        c.sender(OPERATOR), ask(c, ALICE, E18, 3000 * E6, 11), bid(c, BOB, E18, 3000 * E6, 12)
    )
    gas["matchOrders"] = r.gas_used
    r = x.fill_order(c.sender(BOB), ask(c, ALICE, E18, 3000 * E6, 13), 3000 * E6)
    gas["fillOrder"] = r.gas_used
    # makers who traded bitmap orders before: their bitmap words are non-zero
    x.match_orders(
        c.sender(OPERATOR),
        ask(c, CAROL, E18, 3000 * E6, bitmap_salt(0)),
        bid(c, DAVE, E18, 3000 * E6, bitmap_salt(0)),
    )
    r = x.match_orders(
        c.sender(OPERATOR),
        ask(c, CAROL, E18, 3000 * E6, bitmap_salt(1)),
        bid(c, DAVE, E18, 3000 * E6, bitmap_salt(1)),
    )
    gas["matchOrders_bitmap_returning"] = r.gas_used
    resting = ask(c, CAROL, 20 * E18, 60_000 * E6, bitmap_salt(2))
    pairs = [(resting, bid(c, DAVE, E18, 3000 * E6, bitmap_salt(2 + i))) for i in range(20)]
    r = x.batch_match_orders(c.sender(OPERATOR), pairs)
    assert len(x.fills(r.logs)) == 40
    gas["batchMatchOrders_20_bitmap_warm_per_match"] = r.gas_used // 20
    r = x.cancel_order(c.sender(ALICE), ask(c, ALICE, E18, 3000 * E6, 14).order)
    gas["cancelOrder"] = r.gas_used
    r = x.cancel_orders_up_to(c.sender(ALICE), 15)
    gas["cancelOrdersUpTo"] = r.gas_used
    _check_pins(gas)
