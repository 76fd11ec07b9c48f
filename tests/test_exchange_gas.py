"""Bitmap orders (salt tag SDEXBITS), the inline batch and its per-match fallback, and the
gas of every settlement function pinned within ±1% (Uniswap v2-core ``swap:gas`` style).

The pinned figures are deterministic for these fixed orders; a change that costs more gas
fails here, and one that saves gas fails too until the pin (and docs/BENCHMARKS.md, from
bench/gas.py) is updated on purpose.
"""

from __future__ import annotations

import pytest

from sdex.chain import OrderStatus, Token, deploy, load_abi
from sdex.errors import ContractRevert, ExchangeError
from sdex.fillmath import UINT256_MAX, match_amounts
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


# -- matchOrdersPacked: the same match in the packed calldata layout ---------------------


def _call(c: Chain, data: bytes) -> str:
    """An ``eth_call`` of ``data`` to the Exchange from the operator; reverts decoded."""
    tx = {"from": c.address(OPERATOR), "to": c.exchange.address, "data": "0x" + data.hex()}
    try:
        return str(c.rpc.call("eth_call", tx, "latest"))
    except ContractRevert as e:
        raise c.exchange.decoder.decode(e) from None


def test_packed_match_settles_like_match_orders(chain: Chain) -> None:
    """Every optional part in use (takers, fees, a cap): the packed orders decode to the signed
    orders (the events carry their hashes), and amounts, fees and balances follow the rules."""
    c = chain
    fee_to = c.address(DAVE)
    left = c.sign(
        c.order(ALICE, c.weth, 3 * E18, c.usdc, 9000 * E6, taker=c.address(BOB),
                fee_recipient=fee_to, fee_amount=90 * E6, salt=bitmap_salt(3))
    )  # fmt: skip
    right = c.sign(
        c.order(BOB, c.usdc, 6000 * E6, c.weth, 2 * E18, taker=c.address(ALICE),
                fee_recipient=fee_to, fee_amount=2 * E18 // 100)
    )  # fmt: skip
    data = c.exchange.encode_match_packed(left, right, 2 * E18)
    abi = c.exchange.abi.fn("matchOrders").encode(
        left.order.to_tuple(), left.signature, right.order.to_tuple(), right.signature, 2 * E18
    )
    assert len(data) < len(abi) * 6 // 10
    assert c.exchange.encode_settlement([(left, right, 2 * E18)]) == data
    weth_fee_before = c.weth.balance_of(fee_to)
    receipt = c.exchange.match_orders_packed(c.sender(OPERATOR), left, right, 2 * E18)
    fills = c.exchange.fills(receipt.logs)
    assert [f.order_hash for f in fills] == [left.hash, right.hash]
    lo, ro = left.order, right.order
    expect = match_amounts(
        lo.maker_amount, lo.taker_amount, lo.fee_amount, 0,
        ro.maker_amount, ro.taker_amount, ro.fee_amount, 0, max_left_fill=2 * E18,
    )  # fmt: skip
    assert (fills[0].maker_filled, fills[1].maker_filled) == (
        expect.left_filled,
        expect.right_filled,
    )
    assert (fills[0].fee, fills[1].fee) == (expect.left_fee, expect.right_fee)
    assert fills[0].maker_filled == 2 * E18  # the cap held
    assert c.weth.balance_of(fee_to) - weth_fee_before == expect.right_fee
    assert c.exchange.order_info(left.order).filled == 2 * E18
    # the same orders through the ABI entry are now judged on what is left
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders(c.sender(OPERATOR), left, right)
    assert e.value.name == "OrderNotFillable"  # right was filled whole


def test_packed_match_reverts_like_match_orders(chain: Chain) -> None:
    c = chain
    left = ask(c, ALICE, E18, 3000 * E6, random_salt())
    cheap = bid(c, BOB, E18, 2000 * E6, random_salt())  # bids below the ask: no cross
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders_packed(c.sender(OPERATOR), left, cheap)
    assert e.value.name == "PricesDoNotCross"
    forged = SignedOrder(left.order, cheap.signature, left.hash)
    with pytest.raises(ExchangeError) as e:
        _call(
            c, c.exchange.encode_match_packed(forged, bid(c, BOB, E18, 3000 * E6, 5), UINT256_MAX)
        )
    assert e.value.name == "InvalidSignature"
    # a pair whose tokens do not mirror each other goes as matchOrders, which names the problem
    odd = c.sign(c.order(BOB, c.usdc, 3000 * E6, c.usdc, E18))
    with pytest.raises(ValueError):
        c.exchange.encode_match_packed(left, odd, UINT256_MAX)
    data = c.exchange.encode_settlement([(left, odd, UINT256_MAX)])
    assert data[:4] == c.exchange.abi.fn("matchOrders").selector


def test_packed_match_rejects_malformed_calldata(chain: Chain) -> None:
    c = chain
    left = ask(c, ALICE, E18, 3000 * E6, random_salt())
    right = bid(c, BOB, E18, 3000 * E6, random_salt())
    good = c.exchange.encode_match_packed(left, right, UINT256_MAX)
    flags_at, left_amount_at = 4, 4 + 1 + 20 + 40  # selector, flags, maker, tokens
    bad = {
        "truncated": good[:-1],
        "a byte too many": good + b"\x00",
        "an undefined flag bit": good[:flags_at] + b"\x20" + good[flags_at + 1 :],
        "a length byte above 32": good[:left_amount_at] + b"\x21" + good[left_amount_at + 1 :],
        "no data": good[:4],
    }
    for what, data in bad.items():
        with pytest.raises(ExchangeError) as e:
            _call(c, data)
        assert e.value.name == "PackedMatchMalformed", what
        assert isinstance(e.value, ExchangeError)
        assert e.value.args_by_name["calldataSize"] == len(data), what
    _call(c, good)  # the untouched data settles
    assert c.exchange.order_info(left.order).filled == 0  # eth_call: nothing changed


def test_abi_orders_with_dirty_high_bits_revert(chain: Chain) -> None:
    """An address word with bits above 160 (or an expiry above 64 bits) is not an ABI value:
    the Exchange reverts (empty data, as the ABI decoder does) instead of settling an order
    whose hash differs from its fields'."""
    c = chain
    left = ask(c, ALICE, E18, 3000 * E6, random_salt())
    right = bid(c, BOB, E18, 3000 * E6, random_salt())
    fn = c.exchange.abi.fn("matchOrders")
    data = fn.encode(
        left.order.to_tuple(), left.signature, right.order.to_tuple(), right.signature, UINT256_MAX
    )
    _call(c, data)  # clean: settles
    left_at = 4  # the Order tuple is static, so it sits inline in the head
    for word in (0, 2, 8):  # maker, makerToken, expiry
        at = left_at + 32 * word
        dirty = data[:at] + b"\x01" + data[at + 1 :]
        with pytest.raises(ContractRevert) as e:
            _call(c, dirty)
        assert e.value.data == b"", (word, e.value)


# -- gas pinned within ±1% ---------------------------------------------------------------

GAS = {
    "fillOrder": 96_485,
    "matchOrders": 135_718,
    "matchOrders_bitmap_returning": 103_146,
    "matchOrdersPacked": 132_334,
    "matchOrdersPacked_bitmap_returning": 100_010,
    "batchMatchOrders_20_bitmap_warm_per_match": 37_144,
    "cancelOrder": 48_443,
    "cancelOrdersUpTo": 45_194,
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
    r = x.match_orders_packed(
        c.sender(OPERATOR), ask(c, ALICE, E18, 3000 * E6, 16), bid(c, BOB, E18, 3000 * E6, 17)
    )
    gas["matchOrdersPacked"] = r.gas_used
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
    r = x.match_orders_packed(
        c.sender(OPERATOR),
        ask(c, CAROL, E18, 3000 * E6, bitmap_salt(100)),
        bid(c, DAVE, E18, 3000 * E6, bitmap_salt(100)),
    )
    gas["matchOrdersPacked_bitmap_returning"] = r.gas_used
    r = x.cancel_order(c.sender(ALICE), ask(c, ALICE, E18, 3000 * E6, 14).order)
    gas["cancelOrder"] = r.gas_used
    r = x.cancel_orders_up_to(c.sender(ALICE), 15)
    gas["cancelOrdersUpTo"] = r.gas_used
    _check_pins(gas)
