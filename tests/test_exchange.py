"""The Exchange on a real Hardhat node: every function, bad orders, odd tokens, EIP-1271."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from sdex import fillmath
from sdex.chain import OrderStatus, Token, deploy, load_abi
from sdex.chain.exchange import decode_order_states
from sdex.errors import ExchangeError, TransactionFailed
from sdex.order import SECP256K1_N, Domain, Order, SignedOrder, sign_order
from tests.conftest import Chain

E18 = 10**18
E6 = 10**6
OPERATOR = 0
ALICE, BOB, CAROL, FEES = 1, 2, 3, 9


def ask(c: Chain, maker: int, weth: int, usdc: int, **kw: object) -> Order:
    """Sell ``weth`` WETH for ``usdc`` USDC."""
    return c.order(maker, c.weth, weth, c.usdc, usdc, **kw)


def bid(c: Chain, maker: int, weth: int, usdc: int, **kw: object) -> Order:
    """Buy ``weth`` WETH for ``usdc`` USDC."""
    return c.order(maker, c.usdc, usdc, c.weth, weth, **kw)


def balances(c: Chain, *who: int) -> dict[tuple[int, str], int]:
    return {
        (w, sym): tok.balance_of(c.address(w))
        for w in who
        for sym, tok in (("WETH", c.weth), ("USDC", c.usdc))
    }


def delta(
    before: dict[tuple[int, str], int], after: dict[tuple[int, str], int]
) -> dict[tuple[int, str], int]:
    return {k: after[k] - before[k] for k in before if after[k] != before[k]}


# -- domain and hashing ----------------------------------------------------------------


def test_domain_read_from_contract(chain: Chain) -> None:
    d = chain.exchange.domain()
    assert d == Domain(chain.deployment.chain_id, chain.deployment.exchange)


@pytest.mark.parametrize(
    "edits",
    [
        {},
        {"maker_amount": 1, "taker_amount": 1, "salt": 0, "expiry": 0},
        {"maker_amount": 2**256 - 1, "taker_amount": 2**256 - 1, "fee_amount": 2**256 - 1},
        {"expiry": 2**64 - 1, "salt": 2**256 - 1, "taker": "0x" + "ff" * 20},
    ],
)
def test_order_hash_parity_with_contract(chain: Chain, edits: dict[str, object]) -> None:
    order = replace(ask(chain, ALICE, E18, 3000 * E6), **edits)  # type: ignore[arg-type]
    assert chain.exchange.order_hash(order) == chain.domain.order_hash(order)
    assert chain.exchange.order_info(order).hash == chain.domain.order_hash(order)


# -- matchOrders -----------------------------------------------------------------------


def test_match_orders_resting_price_and_fees(chain: Chain) -> None:
    c = chain
    resting = c.sign(
        ask(c, ALICE, 2 * E18, 6000 * E6, fee_recipient=c.address(FEES), fee_amount=30 * E6)
    )
    incoming = c.sign(
        bid(c, BOB, E18, 3100 * E6, fee_recipient=c.address(FEES), fee_amount=E18 // 100)
    )
    before = balances(c, ALICE, BOB, FEES)
    receipt = c.exchange.match_orders(c.sender(OPERATOR), resting, incoming)
    expected = fillmath.match_amounts(2 * E18, 6000 * E6, 30 * E6, 0, 3100 * E6, E18, E18 // 100, 0)
    # Bob's 3100 USDC buys more than 1 WETH at Alice's 3000: the incoming order gets the improvement
    assert expected.left_filled == 3100 * E18 // 3000
    moved = delta(before, balances(c, ALICE, BOB, FEES))
    assert moved == {
        (ALICE, "WETH"): -expected.left_filled,
        (ALICE, "USDC"): expected.right_filled - expected.left_fee,
        (BOB, "WETH"): expected.left_filled - expected.right_fee,
        (BOB, "USDC"): -expected.right_filled,
        (FEES, "WETH"): expected.right_fee,
        (FEES, "USDC"): expected.left_fee,
    }
    fills = c.exchange.fills(receipt.logs)
    assert [(f.order_hash, f.maker_filled, f.fee) for f in fills] == [
        (resting.hash, expected.left_filled, expected.left_fee),
        (incoming.hash, expected.right_filled, expected.right_fee),
    ]
    assert fills[0].taker == c.address(BOB) and fills[1].taker == c.address(ALICE)
    assert c.exchange.order_info(resting.order).status == OrderStatus.FILLABLE
    assert c.exchange.order_info(incoming.order).status == OrderStatus.FILLED
    assert c.exchange.order_info(resting.order).filled == expected.left_filled


def test_match_partial_then_rest_of_resting_order(chain: Chain) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, 3 * E18, 9000 * E6))
    for taker in (BOB, CAROL, BOB):
        c.exchange.match_orders(c.sender(OPERATOR), resting, c.sign(bid(c, taker, E18, 3000 * E6)))
    info = c.exchange.order_info(resting.order)
    assert (info.status, info.filled) == (OrderStatus.FILLED, 3 * E18)
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders(c.sender(OPERATOR), resting, c.sign(bid(c, CAROL, E18, 3000 * E6)))
    assert e.value.name == "OrderNotFillable"
    assert e.value.args_by_name["status"] == OrderStatus.FILLED


# -- fillOrder -------------------------------------------------------------------------


def test_fill_order_by_caller_partial_and_clamped(chain: Chain) -> None:
    c = chain
    order = c.sign(
        ask(c, ALICE, 2 * E18, 6000 * E6, fee_recipient=c.address(FEES), fee_amount=60 * E6)
    )
    before = balances(c, ALICE, BOB, FEES)
    c.exchange.fill_order(c.sender(BOB), order, 1500 * E6)  # a quarter
    assert delta(before, balances(c, ALICE, BOB, FEES)) == {
        (ALICE, "WETH"): -E18 // 2,
        (ALICE, "USDC"): 1500 * E6 - 15 * E6,
        (BOB, "WETH"): E18 // 2,
        (BOB, "USDC"): -1500 * E6,
        (FEES, "USDC"): 15 * E6,
    }
    # offering far more than the rest takes exactly the rest
    receipt = c.exchange.fill_order(c.sender(BOB), order, 2**256 - 1)
    (fill,) = c.exchange.fills(receipt.logs)
    assert (fill.maker_filled, fill.taker_filled, fill.fee) == (3 * E18 // 2, 4500 * E6, 45 * E6)
    assert c.exchange.order_info(order.order).status == OrderStatus.FILLED


def test_fill_order_taker_restriction(chain: Chain) -> None:
    c = chain
    order = c.sign(ask(c, ALICE, E18, 3000 * E6, taker=c.address(CAROL)))
    with pytest.raises(ExchangeError) as e:
        c.exchange.fill_order(c.sender(BOB), order, 3000 * E6)
    assert e.value.name == "TakerNotAllowed"
    c.exchange.fill_order(c.sender(CAROL), order, 3000 * E6)
    assert c.exchange.order_info(order.order).status == OrderStatus.FILLED


# -- cancels and statuses --------------------------------------------------------------


def test_cancel_order_only_by_maker_and_permanent(chain: Chain) -> None:
    c = chain
    order = c.sign(ask(c, ALICE, E18, 3000 * E6))
    with pytest.raises(ExchangeError) as e:
        c.exchange.cancel_order(c.sender(BOB), order.order)
    assert e.value.name == "OnlyMaker"
    receipt = c.exchange.cancel_order(c.sender(ALICE), order.order)
    topic = c.exchange.abi.events["OrderCancelled"].topic
    assert [log.topics[1] for log in receipt.logs if log.topics[0] == topic] == [order.hash]
    assert c.exchange.order_info(order.order).status == OrderStatus.CANCELLED
    with pytest.raises(ExchangeError) as e:
        c.exchange.fill_order(c.sender(BOB), order, 3000 * E6)
    assert e.value.name == "OrderNotFillable"


def test_cancel_keeps_partial_fill_amount(chain: Chain) -> None:
    c = chain
    order = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    c.exchange.fill_order(c.sender(BOB), order, 3000 * E6)
    c.exchange.cancel_order(c.sender(ALICE), order.order)
    info = c.exchange.order_info(order.order)
    assert (info.status, info.filled) == (OrderStatus.CANCELLED, E18)


def test_cancel_orders_up_to(chain: Chain) -> None:
    c = chain
    old = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=5))
    new = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=10))
    c.exchange.cancel_orders_up_to(c.sender(ALICE), 10)
    assert c.exchange.min_valid_salt(c.address(ALICE)) == 10
    assert c.exchange.order_info(old.order).status == OrderStatus.CANCELLED
    assert c.exchange.order_info(new.order).status == OrderStatus.FILLABLE
    with pytest.raises(ExchangeError) as e:
        c.exchange.cancel_orders_up_to(c.sender(ALICE), 10)
    assert e.value.name == "MinValidSaltNotIncreasing"


def test_order_info_statuses(chain: Chain) -> None:
    c = chain
    now = c.now()
    assert c.exchange.order_info(ask(c, ALICE, 0, 1)).status == OrderStatus.INVALID
    assert c.exchange.order_info(ask(c, ALICE, 1, 1, expiry=now)).status == OrderStatus.EXPIRED
    assert c.exchange.order_info(ask(c, ALICE, 1, 1)).status == OrderStatus.FILLABLE


def test_order_states_batch_view(chain: Chain) -> None:
    c = chain
    good = c.sign(ask(c, ALICE, E18, 3000 * E6))
    forged = SignedOrder(good.order, c.sign(ask(c, ALICE, E18, 1)).signature, good.hash)
    poor = c.sign(bid(c, 15, E18, 3000 * E6))
    c.usdc.approve(c.sender(15), c.deployment.exchange, 7)
    states = c.exchange.order_states([good, forged, poor])
    assert [s.hash for s in states] == [good.hash, good.hash, poor.hash]
    assert [s.signature_valid for s in states] == [True, False, True]
    assert states[0].maker_balance == c.weth.balance_of(c.address(ALICE))
    assert states[0].maker_allowance == 2**256 - 1
    assert states[2].maker_allowance == 7
    assert all(s.status == OrderStatus.FILLABLE for s in states)


# -- batchMatchOrders ------------------------------------------------------------------


def test_batch_skips_failing_match_and_settles_the_rest(chain: Chain) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    takers = [c.sign(bid(c, m, E18, 3000 * E6)) for m in (BOB, CAROL, 4)]
    # The third taker finds the resting order already used up: skipped, not reverted.
    receipt = c.exchange.batch_match_orders(c.sender(OPERATOR), [(resting, t) for t in takers])
    fills = c.exchange.fills(receipt.logs)
    assert {f.order_hash for f in fills} == {resting.hash, takers[0].hash, takers[1].hash}
    (skip,) = c.exchange.skipped(receipt.logs)
    assert (skip.index, skip.left_hash, skip.right_hash) == (2, resting.hash, takers[2].hash)
    assert isinstance(skip.reason, ExchangeError) and skip.reason.name == "OrderNotFillable"
    assert c.exchange.order_info(takers[2].order).filled == 0


def test_max_left_fill_caps_the_resting_side(chain: Chain) -> None:
    # A resting ask of 2 WETH whose maker can pay for one: the node caps the match at what
    # the maker funds, where an uncapped match would take both and revert in the transfer.
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
    receipt = c.exchange.match_orders(c.sender(OPERATOR), resting, incoming, max_left_fill=E18)
    got = {f.order_hash: f.maker_filled for f in c.exchange.fills(receipt.logs)}
    expected = fillmath.match_amounts(2 * E18, 6000 * E6, 0, 0, 2 * E18, 6000 * E6, 0, 0, E18)
    assert got == {resting.hash: expected.left_filled, incoming.hash: expected.right_filled}
    assert (expected.left_filled, expected.right_filled) == (E18, 3000 * E6)
    assert c.exchange.order_info(resting.order).filled == E18


def test_max_left_fill_zero_reverts_and_batch_applies_caps_per_pair(chain: Chain) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders(c.sender(OPERATOR), resting, incoming, max_left_fill=0)
    assert e.value.name == "ZeroFillAmount"
    takers = [c.sign(bid(c, m, E18, 3000 * E6)) for m in (BOB, CAROL)]
    receipt = c.exchange.batch_match_orders(
        c.sender(OPERATOR), [(resting, t) for t in takers], max_left_fills=[E18 // 4, 0]
    )
    (skip,) = c.exchange.skipped(receipt.logs)
    assert skip.index == 1 and isinstance(skip.reason, ExchangeError)
    assert skip.reason.name == "ZeroFillAmount"
    assert c.exchange.order_info(resting.order).filled == E18 // 4
    assert c.exchange.order_info(takers[0].order).filled == 750 * E6


# -- the bad-order table ---------------------------------------------------------------

Mutation = Callable[[Chain, Order, Order], tuple[SignedOrder, SignedOrder]]


def _signed(c: Chain, left: Order, right: Order) -> tuple[SignedOrder, SignedOrder]:
    return c.sign(left), c.sign(right)


def _edit_left(**kw: object) -> Mutation:
    return lambda c, left, r: _signed(c, replace(left, **kw), r)  # type: ignore[arg-type]


def _edit_right(**kw: object) -> Mutation:
    return lambda c, left, r: _signed(c, left, replace(r, **kw))  # type: ignore[arg-type]


def _signed_by_other(c: Chain, left: Order, r: Order) -> tuple[SignedOrder, SignedOrder]:
    forged = sign_order(left, c.domain, c.keys[CAROL])
    return forged, c.sign(r)


def _domain(chain_id: int | None = None, contract: str | None = None) -> Mutation:
    def m(c: Chain, left: Order, r: Order) -> tuple[SignedOrder, SignedOrder]:
        d = Domain(chain_id or c.domain.chain_id, contract or c.domain.verifying_contract)
        other = sign_order(left, d, c.keys[ALICE])
        # signed for another domain, but presented here: the contract hashes with its own
        return SignedOrder(left, other.signature, c.domain.order_hash(left)), c.sign(r)

    return m


def _high_s(c: Chain, left: Order, r: Order) -> tuple[SignedOrder, SignedOrder]:
    s = c.sign(left)
    sig = s.signature
    hi = SECP256K1_N - int.from_bytes(sig[32:64], "big")
    twin = sig[:32] + hi.to_bytes(32, "big") + bytes([55 - sig[64]])
    return SignedOrder(left, twin, s.hash), c.sign(r)


def _cancelled(c: Chain, left: Order, r: Order) -> tuple[SignedOrder, SignedOrder]:
    c.exchange.cancel_order(c.sender(ALICE), left)
    return _signed(c, left, r)


def _salt_floor(c: Chain, left: Order, r: Order) -> tuple[SignedOrder, SignedOrder]:
    c.exchange.cancel_orders_up_to(c.sender(ALICE), left.salt + 1)
    return _signed(c, left, r)


def _already_filled(c: Chain, left: Order, r: Order) -> tuple[SignedOrder, SignedOrder]:
    sl = c.sign(left)
    c.exchange.fill_order(c.sender(CAROL), sl, 2**256 - 1)
    return sl, c.sign(r)


def _zero_fill(c: Chain, left: Order, r: Order) -> tuple[SignedOrder, SignedOrder]:
    """1 wei WETH for 3000 USDC vs 1 micro-USDC: not one unit can trade."""
    return _signed(c, replace(left, maker_amount=1), replace(r, maker_amount=1, taker_amount=1))


def _expired(c: Chain, left: Order, r: Order) -> tuple[SignedOrder, SignedOrder]:
    return _signed(c, replace(left, expiry=c.now()), r)


BAD_MATCHES: list[tuple[str, Mutation, str]] = [
    ("signed-by-other-key", _signed_by_other, "InvalidSignature"),
    ("other-chain", _domain(chain_id=1), "InvalidSignature"),
    ("other-exchange", _domain(contract="0x" + "42" * 20), "InvalidSignature"),
    ("high-s", _high_s, "InvalidSignature"),
    ("expired", _expired, "OrderExpired"),
    ("cancelled", _cancelled, "OrderNotFillable"),
    ("salt-below-floor", _salt_floor, "OrderNotFillable"),
    ("already-filled", _already_filled, "OrderNotFillable"),
    ("price-not-crossing", _edit_right(maker_amount=2900 * E6), "PricesDoNotCross"),
    ("fill-rounds-to-zero", _zero_fill, "ZeroFillAmount"),
    ("wrong-taker-left", _edit_left(taker="0x" + "77" * 20), "TakerNotAllowed"),
    ("wrong-taker-right", _edit_right(taker="0x" + "77" * 20), "TakerNotAllowed"),
    ("zero-maker-amount", _edit_left(maker_amount=0), "InvalidOrderAmounts"),
    ("zero-taker-amount", _edit_right(taker_amount=0), "InvalidOrderAmounts"),
    ("fee-above-taker-amount", _edit_left(fee_amount=3000 * E6 + 1), "InvalidOrderAmounts"),
    ("fee-without-recipient", _edit_left(fee_amount=1), "InvalidOrderAmounts"),
    ("maker-amount-2^256-1", _edit_left(maker_amount=2**256 - 1), "InvalidOrderAmounts"),
    ("maker-amount-2^255", _edit_left(maker_amount=2**255), "InvalidOrderAmounts"),
    ("taker-amount-2^256-1", _edit_left(taker_amount=2**256 - 1), "ZeroFillAmount"),
    (
        "maker-amount-beyond-balance",
        _edit_left(maker_amount=2**254, taker_amount=1),
        "ERC20InsufficientBalance",
    ),
    (
        "same-tokens",
        lambda c, left, r: _signed(c, replace(left, taker_token=left.maker_token), r),
        "SameTokens",
    ),
    ("token-mismatch", _edit_right(maker_token="0x" + "55" * 20), "TokenMismatch"),
]


@pytest.mark.parametrize(
    ("mutate", "error"), [b[1:] for b in BAD_MATCHES], ids=[b[0] for b in BAD_MATCHES]
)
def test_bad_match_reverts_with_its_error_and_moves_nothing(
    chain: Chain, mutate: Mutation, error: str
) -> None:
    c = chain
    left, right = mutate(c, ask(c, ALICE, E18, 3000 * E6), bid(c, BOB, E18, 3000 * E6))
    before = balances(c, ALICE, BOB, CAROL, OPERATOR)
    filled = [c.exchange.order_info(s.order).filled for s in (left, right)]
    # Mine the transaction (fixed gas, no pre-flight) so the revert is the chain's own.
    with pytest.raises(TransactionFailed) as e:
        c.exchange._transact(
            c.sender(OPERATOR), "matchOrders",
            left.order.to_tuple(), left.signature, right.order.to_tuple(), right.signature,
            2**256 - 1, gas=1_000_000,
        )  # fmt: skip
    assert isinstance(e.value.revert, ExchangeError)
    assert e.value.revert.name == error
    assert balances(c, ALICE, BOB, CAROL, OPERATOR) == before
    assert [c.exchange.order_info(s.order).filled for s in (left, right)] == filled


def test_error_values_are_carried(chain: Chain) -> None:
    c = chain
    order = c.sign(replace(ask(c, ALICE, E18, 3000 * E6), expiry=c.now() - 5))
    with pytest.raises(ExchangeError) as e:
        c.exchange.fill_order(c.sender(BOB), order, 3000 * E6)
    assert e.value.name == "OrderExpired"
    assert e.value.args_by_name["orderHash"] == order.hash
    assert e.value.args_by_name["expiry"] == order.order.expiry


# -- EIP-1271 contract wallets -----------------------------------------------------------


def test_contract_wallet_maker(chain: Chain) -> None:
    c = chain
    wallet = deploy(c.sender(OPERATOR), "ERC1271Wallet", c.address(5))
    c.weth.transfer(c.sender(5), wallet, 2 * E18)
    c.sender(5).transact(wallet, load_abi("ERC1271Wallet").fn("approve").encode(
        c.weth.address, c.deployment.exchange, 2**256 - 1))  # fmt: skip
    order = replace(ask(c, ALICE, E18, 3000 * E6), maker=wallet)
    good = sign_order(order, c.domain, c.keys[5])  # the owner signs the order hash
    bad = sign_order(order, c.domain, c.keys[6])
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders(c.sender(OPERATOR), bad, c.sign(bid(c, BOB, E18, 3000 * E6)))
    assert e.value.name == "InvalidSignature"
    c.exchange.match_orders(c.sender(OPERATOR), good, c.sign(bid(c, BOB, E18, 3000 * E6)))
    assert c.weth.balance_of(wallet) == E18
    assert c.exchange.order_states([good, bad])[0].signature_valid is True
    assert c.exchange.order_states([good, bad])[1].signature_valid is False


# -- misbehaving tokens ------------------------------------------------------------------


def _odd_token(c: Chain, name: str, *args: object) -> Token:
    t = Token(c.rpc, deploy(c.sender(OPERATOR), name, *args))
    t.abi = load_abi(name)
    for who in (ALICE, BOB):
        t.send(c.sender(OPERATOR), "mint", c.address(who), 1000 * E18)
        t.send(c.sender(who), "approve", c.deployment.exchange, 2**256 - 1)
    return t


def test_no_return_value_token_settles(chain: Chain) -> None:
    c = chain
    usdt = _odd_token(c, "NoReturnToken")
    left = c.sign(c.order(ALICE, c.weth, E18, usdt, 300 * E18))
    right = c.sign(c.order(BOB, usdt, 300 * E18, c.weth, E18))
    c.exchange.match_orders(c.sender(OPERATOR), left, right)
    assert usdt.balance_of(c.address(ALICE)) == 1300 * E18
    assert usdt.balance_of(c.address(BOB)) == 700 * E18


def test_false_returning_token_reverts_whole_settlement(chain: Chain) -> None:
    c = chain
    bad = _odd_token(c, "FalseReturnToken")
    left = c.sign(c.order(ALICE, c.weth, E18, bad, 3000 * E18))
    right = c.sign(c.order(BOB, bad, 3000 * E18, c.weth, E18))
    before = balances(c, ALICE, BOB)
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders(c.sender(OPERATOR), left, right)
    assert e.value.name == "SafeERC20FailedOperation"
    assert balances(c, ALICE, BOB) == before


def test_fee_on_transfer_token_receiver_bears_the_fee(chain: Chain) -> None:
    """The Exchange settles the computed amounts; a fee-on-transfer token takes its cut from
    the receiver. Nodes should not list such tokens; the chain record stays exact."""
    c = chain
    fot = _odd_token(c, "FeeOnTransferToken")
    left = c.sign(c.order(ALICE, c.weth, E18, fot, 1000 * E18))
    right = c.sign(c.order(BOB, fot, 1000 * E18, c.weth, E18))
    receipt = c.exchange.match_orders(c.sender(OPERATOR), left, right)
    assert [f.maker_filled for f in c.exchange.fills(receipt.logs)] == [E18, 1000 * E18]
    assert fot.balance_of(c.address(ALICE)) == 1000 * E18 + 990 * E18
    assert fot.balance_of(c.address(BOB)) == 0


def test_reentrant_token_cannot_reenter(chain: Chain) -> None:
    c = chain
    evil = _odd_token(c, "ReentrantToken")
    victim = c.sign(ask(c, ALICE, E18, 3000 * E6))
    reenter = c.exchange.abi.fn("fillOrder").encode(
        victim.order.to_tuple(), victim.signature, 3000 * E6
    )
    evil.send(c.sender(OPERATOR), "setReentry", c.deployment.exchange, reenter)
    left = c.sign(c.order(ALICE, c.weth, E18, evil, 10 * E18))
    right = c.sign(c.order(BOB, evil, 10 * E18, c.weth, E18))
    before = balances(c, ALICE, BOB)
    with pytest.raises(ExchangeError) as e:
        c.exchange.match_orders(c.sender(OPERATOR), left, right)
    assert e.value.name == "ReentrancyGuardReentrantCall"
    assert balances(c, ALICE, BOB) == before
    assert c.exchange.order_info(victim.order).filled == 0


def test_settle_match_only_callable_by_the_exchange(chain: Chain) -> None:
    c = chain
    left, right = c.sign(ask(c, ALICE, E18, 3000 * E6)), c.sign(bid(c, BOB, E18, 3000 * E6))
    with pytest.raises(ExchangeError) as e:
        c.exchange._transact(
            c.sender(BOB), "settleMatch",
            left.order.to_tuple(), left.signature, right.order.to_tuple(), right.signature, E18,
        )  # fmt: skip
    assert e.value.name == "OnlySelf"


def test_direct_order_states_codec_equals_eth_abi(chain: Chain) -> None:
    c = chain
    orders = [c.sign(ask(c, ALICE, (k + 1) * E18, 3000 * E6 + k)) for k in range(5)]
    wallet_sig = replace(orders[1], signature=b"\x01" * 70)  # EIP-1271 bytes: any length
    sample = [orders[0], wallet_sig, *orders[2:], replace(orders[3], signature=b"")]
    f = c.exchange.abi.fn("getOrderStates")
    expected = f.encode([s.order.to_tuple() for s in sample], [s.signature for s in sample])
    assert c.exchange.encode_order_states(sample) == expected
    raw = c.rpc.call(
        "eth_call", {"to": c.exchange.address, "data": "0x" + expected.hex()}, "latest"
    )
    (rows,) = f.decode_output(bytes.fromhex(raw[2:]))
    decoded = decode_order_states(bytes.fromhex(raw[2:]))
    assert [
        (s.hash, int(s.status), s.filled, s.signature_valid, s.maker_balance, s.maker_allowance)
        for s in decoded
    ] == [(bytes(h), st, fi, v, b, a) for h, st, fi, v, b, a in rows]
    assert [s.signature_valid for s in decoded] == [True, False, True, True, True, False]


def test_direct_batch_codec_and_fill_decoder_equal_eth_abi(chain: Chain) -> None:
    c = chain
    asks = [c.sign(ask(c, ALICE, E18, 3000 * E6 + k)) for k in range(3)]
    bids = [c.sign(bid(c, BOB, E18, 3100 * E6 + k)) for k in range(2)]
    odd = replace(bids[1], signature=b"\x02" * 33)  # any length
    matches = [(asks[0], bids[0], E18), (asks[1], bids[0], 7), (asks[2], odd, 2**256 - 1)]
    f = c.exchange.abi.fn("batchMatchOrders")
    orders = [asks[0], bids[0], asks[1], asks[2], odd]
    expected = f.encode(
        [s.order.to_tuple() for s in orders],
        [s.signature for s in orders],
        [(0, 1, E18), (2, 1, 7), (3, 4, 2**256 - 1)],
    )
    assert c.exchange.encode_batch(matches) == expected
    # the fills of a settled batch, decoded directly and by eth_abi
    receipt = c.exchange.batch_match_orders(
        c.sender(CAROL), [(asks[0], bids[0]), (asks[1], bids[1])], gas=2_000_000
    )
    ev = c.exchange.abi.events["OrderFilled"]
    direct = c.exchange.fills(receipt.logs)
    assert len(direct) == 4
    by_abi = [
        ev.decode(lg.topics, lg.data)
        for lg in receipt.logs
        if lg.address == c.exchange.address and lg.topics[0] == ev.topic
    ]
    assert [
        (f.order_hash, f.maker, f.taker, f.maker_filled, f.taker_filled, f.fee_recipient, f.fee)
        for f in direct
    ] == [
        (bytes(a["orderHash"]), a["maker"].lower(), a["taker"].lower(), a["makerAmountFilled"],
         a["takerAmountFilled"], a["feeRecipient"].lower(), a["feePaid"])
        for a in by_abi
    ]  # fmt: skip
