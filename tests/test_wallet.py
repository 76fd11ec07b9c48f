"""The wallet side: human price/amount to exact order amounts, the node's order_config checked
and signed for as ``eth_signTypedData_v4`` would, soft-cancel signatures."""

from __future__ import annotations

import copy
import re
from fractions import Fraction
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.client import NodeProtocolError, OrderConfig
from sdex.deployment import TokenInfo
from sdex.order import (
    ZERO_ADDRESS,
    Domain,
    Order,
    address_of,
    recover_signer,
    validity_errors,
)
from sdex.typeddata import EIP712_TYPES
from sdex.wallet import (
    Market,
    Side,
    WalletInputError,
    build_order,
    fee_for,
    fmt_amount,
    fmt_price,
    limit_amounts,
    parse_decimal,
    parse_key,
    parse_order_hash,
    parse_pair,
    sign_cancel,
    sign_limit_order,
)

KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
MAKER = address_of(KEY)
EXCHANGE = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
WETH = "0x" + "11" * 20
USDC = "0x" + "22" * 20
WBTC = "0x" + "33" * 20
FEE_TO = "0x" + "44" * 20
DOMAIN = Domain(31337, EXCHANGE)


def config_json(**kw: Any) -> dict[str, Any]:
    """An order_config as a node serves it (PRODUCT.md section 3)."""
    obj: dict[str, Any] = {
        "chainId": 31337,
        "exchange": EXCHANGE,
        "domain": DOMAIN.to_json(),
        "types": copy.deepcopy(EIP712_TYPES),
        "primaryType": "Order",
        "feeRecipient": ZERO_ADDRESS,
        "feeBps": 0,
        "tokens": {
            "WETH": {"address": WETH, "decimals": 18},
            "USDC": {"address": USDC, "decimals": 6},
            "WBTC": {"address": WBTC, "decimals": 8},
        },
    }
    obj.update(kw)
    return obj


CONFIG = OrderConfig.from_json(config_json())
WETH_USDC = parse_pair("WETH/USDC", CONFIG)


def market(base_decimals: int, quote_decimals: int) -> Market:
    return Market("B", "Q", TokenInfo(WETH, base_decimals), TokenInfo(USDC, quote_decimals))


# -- human → exact amounts ---------------------------------------------------------------------

AMOUNT_CASES = [
    # (side, price, amount, base dec, quote dec, makerAmount, takerAmount)
    ("buy", "2000", "1", 18, 6, 2000 * 10**6, 10**18),
    ("sell", "2000", "1", 18, 6, 10**18, 2000 * 10**6),
    ("buy", "2000.5", "1.5", 18, 6, 3000_750_000, 15 * 10**17),
    ("sell", "2000.5", "1.5", 18, 6, 15 * 10**17, 3000_750_000),
    # 1 wei of WETH at 2000.5 USDC is 2.0005e-9 USDC units: a sell asks 1 unit (rounded up)
    ("sell", "2000.5", "0.000000000000000001", 18, 6, 1, 1),
    # 0.0000015 WETH at 1 USDC = 1.5 units: a buy pays 1 unit (rounded down), a sell asks 2
    ("buy", "1", "0.0000015", 18, 6, 1, 15 * 10**11),
    ("sell", "1", "0.0000015", 18, 6, 15 * 10**11, 2),
    # a 6-decimal base and an 18-decimal quote (USDC/WETH): 1 USDC at 0.0005 WETH
    ("buy", "0.0005", "1", 6, 18, 5 * 10**14, 10**6),
    ("sell", "0.0005", "1", 6, 18, 10**6, 5 * 10**14),
    # price 1/3 is not a decimal input, but 0.333… rounds each way
    ("buy", "0.333333", "1", 6, 6, 333_333, 10**6),
    ("sell", "0.3333331", "1", 6, 6, 10**6, 333_334),
    ("buy", "123456789.123456", "0.000001", 6, 6, 123_456_789, 1),
    ("sell", "1", "0.000001", 6, 0, 1, 1),
]


@pytest.mark.parametrize(
    ("side", "price", "amount", "bd", "qd", "maker", "taker"),
    AMOUNT_CASES,
    ids=[f"{c[0]}-{c[1]}x{c[2]}-{c[3]}/{c[4]}" for c in AMOUNT_CASES],
)
def test_limit_amounts(
    side: str, price: str, amount: str, bd: int, qd: int, maker: int, taker: int
) -> None:
    m = market(bd, qd)
    got = limit_amounts(Side(side), parse_decimal(price, "P"), parse_decimal(amount, "A"), m)
    assert (got.maker_amount, got.taker_amount) == (maker, taker)


@settings(max_examples=400, deadline=None)
@given(
    side=st.sampled_from(Side),
    bd=st.sampled_from([0, 6, 8, 18]),
    qd=st.sampled_from([0, 6, 8, 18]),
    price=st.decimals(min_value="0.000001", max_value="1000000000", places=6, allow_nan=False),
    base_units=st.integers(1, 10**30),
)
def test_signed_limit_never_crosses_the_human_limit(
    side: Side, bd: int, qd: int, price: Any, base_units: int
) -> None:
    m = market(bd, qd)
    p = Fraction(price)
    amount = Fraction(base_units, 10**bd)
    try:
        got = limit_amounts(side, p, amount, m)
    except WalletInputError as e:
        assert side is Side.BUY and "less than one unit" in str(e)
        assert p * base_units * 10**qd / 10**bd < 1
        return
    base, quote = m.base_and_quote(side, got.maker_amount, got.taker_amount)
    assert base == base_units  # the size is exact
    signed = m.price(base, quote)
    if side is Side.BUY:
        assert signed <= p  # pays at most the limit
        assert m.price(base, quote + 1) > p  # and by less than one quote unit
    else:
        assert signed >= p  # gets at least the limit
        assert quote == 1 or m.price(base, quote - 1) < p


BAD_AMOUNTS = [
    # (side, price, amount, base dec, quote dec, message)
    ("buy", "2000.5", "0.000000000000000001", 18, 6, "less than one unit of Q"),
    ("buy", "0.5", "0.000001", 18, 6, "less than one unit"),
    ("sell", "2000", "0.0000001", 6, 6, "more decimal places than B's 6"),
    ("buy", "2000", "1.5", 0, 6, "more decimal places than B's 0"),
    ("sell", "1", str(2**256), 0, 0, "too large"),
    ("buy", str(2**256), "1", 0, 0, "too large"),
]


@pytest.mark.parametrize(
    ("side", "price", "amount", "bd", "qd", "message"),
    BAD_AMOUNTS,
    ids=["1wei-buy", "dust-buy", "too-fine", "fraction-of-0dec", "huge-amount", "huge-price"],
)
def test_amounts_that_cannot_be_signed_are_refused(
    side: str, price: str, amount: str, bd: int, qd: int, message: str
) -> None:
    with pytest.raises(WalletInputError, match=message):
        limit_amounts(
            Side(side), parse_decimal(price, "P"), parse_decimal(amount, "A"), market(bd, qd)
        )


@pytest.mark.parametrize(
    "text",
    ["0", "0.0", "-1", "+1", "1e3", "NaN", "inf", "Infinity", "1_000", "1,5", "", ".", "0x10",
     "1.2.3", "one", "9" * 101],
)  # fmt: skip
def test_bad_decimals_are_refused(text: str) -> None:
    with pytest.raises(WalletInputError, match="PRICE"):
        parse_decimal(text, "PRICE")


@pytest.mark.parametrize(
    ("text", "value"),
    [("2000.5", Fraction(4001, 2)), (" 1.50 ", Fraction(3, 2)), (".25", Fraction(1, 4)),
     ("7.", Fraction(7)), ("0.000000000000000001", Fraction(1, 10**18))],
)  # fmt: skip
def test_decimals_parse_exactly(text: str, value: Fraction) -> None:
    assert parse_decimal(text, "X") == value


@pytest.mark.parametrize(
    ("text", "message"),
    [("WETH", "BASE/QUOTE"), ("WETH/", "BASE/QUOTE"), ("WETH/USDC/DAI", "BASE/QUOTE"),
     ("weth/WETH", "same token"), ("WETH/DAI", "does not list token DAI"),
     # listed the other way round: refused, naming the listed market, never flipped
     ("USDC/WETH", "USDC/WETH is not a listed market; the node lists WETH/USDC: use --pair "
                   "WETH/USDC"),
     ("usdc/weth", "USDC/WETH is not a listed market"),
     ("WBTC/USDC", "the node lists USDC/WBTC"), ("WBTC/WETH", "the node lists WETH/WBTC")],
)  # fmt: skip
def test_bad_pairs_are_refused(text: str, message: str) -> None:
    with pytest.raises(WalletInputError, match=re.escape(message)):
        parse_pair(text, CONFIG)


def test_pairs_are_the_ones_the_node_lists() -> None:
    """``order_config.pairs`` when the node sends it; else every two tokens, first as base."""
    assert CONFIG.pairs == (("WETH", "USDC"), ("WETH", "WBTC"), ("USDC", "WBTC"))
    config = OrderConfig.from_json(config_json(pairs=["WETH/USDC", "WBTC/USDC"]))
    assert config.pairs == (("WETH", "USDC"), ("WBTC", "USDC"))
    assert parse_pair("wbtc/usdc", config).base_token == TokenInfo(WBTC, 8)
    with pytest.raises(WalletInputError, match=re.escape("does not list WETH/WBTC (it lists: "
                                                         "WETH/USDC, WBTC/USDC)")):  # fmt: skip
        parse_pair("WETH/WBTC", config)
    for bad in (["WETH/DAI"], ["WETH"], "WETH/USDC", [7], ["WETH/WETH"]):
        with pytest.raises(NodeProtocolError, match="pair"):
            OrderConfig.from_json(config_json(pairs=bad))


def test_pairs_resolve_case_insensitively() -> None:
    m = parse_pair(" weth / Usdc ", CONFIG)
    assert (m.base, m.quote, m.base_token, m.quote_token) == (
        "WETH",
        "USDC",
        TokenInfo(WETH, 18),
        TokenInfo(USDC, 6),
    )


@pytest.mark.parametrize(
    "text", ["", "0x", "12" * 31, "12" * 33, "zz" * 32, "00" * 32, "ff" * 32, "0x" + "0" * 63]
)
def test_bad_keys_are_refused(text: str) -> None:
    with pytest.raises(WalletInputError, match="key"):
        parse_key(text)


def test_keys_parse_with_or_without_0x() -> None:
    assert parse_key(KEY.hex()) == parse_key("0x" + KEY.hex().upper()) == KEY


@pytest.mark.parametrize("text", ["", "0x", "0x" + "ab" * 31, "ab" * 32, "0x" + "zz" * 32])
def test_bad_order_hashes_are_refused(text: str) -> None:
    with pytest.raises(WalletInputError):
        parse_order_hash(text)


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [(0, 6, "0"), (1, 6, "0.000001"), (1_500_000, 6, "1.5"), (10**18, 18, "1"),
     (123, 0, "123"), (10**40 + 1, 18, "10000000000000000000000.000000000000000001")],
)  # fmt: skip
def test_fmt_amount_is_exact(units: int, decimals: int, text: str) -> None:
    assert fmt_amount(units, decimals) == text


def test_fmt_price_marks_rounded_values() -> None:
    assert fmt_price(Fraction(4001, 2)) == "2000.5"
    assert fmt_price(Fraction(1, 3)) == "~0.33333333"
    assert fmt_price(Fraction(2, 3), 2) == "~0.67"


# -- building and signing from order_config ----------------------------------------------------


def eth_account_digest(config: dict[str, Any], message: dict[str, Any]) -> bytes:
    """The digest a wallet's ``eth_signTypedData_v4`` signs for the node's own typed data."""
    typed = {
        "types": config["types"],
        "primaryType": config["primaryType"],
        "domain": config["domain"],
        "message": message,
    }
    msg = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + msg.version + msg.header + msg.body)


@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("fee_bps", [0, 30, 10_000])
def test_sign_from_order_config_is_what_a_wallet_signs(side: Side, fee_bps: int) -> None:
    raw = config_json(feeBps=fee_bps, feeRecipient=FEE_TO if fee_bps else ZERO_ADDRESS)
    config = OrderConfig.from_json(raw)
    m = parse_pair("WETH/USDC", config)
    signed = sign_limit_order(
        config, m, side, Fraction("2000.5"), Fraction("1.5"), KEY,
        expiry_seconds=600, now=1_700_000_000, salt=7,
    )  # fmt: skip
    o = signed.order
    assert o.maker == MAKER and o.taker == ZERO_ADDRESS
    assert (o.expiry, o.salt) == (1_700_000_600, 7)
    if side is Side.BUY:
        assert (o.maker_token, o.taker_token) == (USDC, WETH)
        assert (o.maker_amount, o.taker_amount) == (3_000_750_000, 15 * 10**17)
    else:
        assert (o.maker_token, o.taker_token) == (WETH, USDC)
        assert (o.maker_amount, o.taker_amount) == (15 * 10**17, 3_000_750_000)
    assert o.fee_amount == o.taker_amount * fee_bps // 10_000
    assert o.fee_recipient == (FEE_TO if fee_bps else ZERO_ADDRESS)
    assert validity_errors(o) == []
    # The hash is the EIP-712 digest of the node's own domain/types, as eth-account computes it;
    # the signature recovers to the maker, and equals eth-account's (RFC 6979 nonces).
    assert signed.hash == eth_account_digest(raw, o.to_message())
    assert recover_signer(signed.hash, signed.signature) == MAKER
    typed = {"types": raw["types"], "primaryType": "Order", "domain": raw["domain"]}
    wallet = Account.sign_typed_data(KEY, full_message={**typed, "message": o.to_message()})
    assert bytes(wallet.signature) == signed.signature


def test_each_order_gets_a_fresh_salt_and_expiry_from_now() -> None:
    a = sign_limit_order(CONFIG, WETH_USDC, Side.BUY, Fraction(2000), Fraction(1), KEY)
    b = sign_limit_order(CONFIG, WETH_USDC, Side.BUY, Fraction(2000), Fraction(1), KEY)
    assert a.order.salt != b.order.salt and a.hash != b.hash
    assert a.order.expiry - 3600 <= b.order.expiry - 3600 <= a.order.expiry + 5 - 3600


@pytest.mark.parametrize(
    ("taker_amount", "bps", "fee"),
    [(0, 30, 0), (333, 30, 0), (334, 30, 1), (10**6, 30, 3000), (10**6, 0, 0), (7, 10_000, 7)],
)
def test_fee_is_rounded_down(taker_amount: int, bps: int, fee: int) -> None:
    assert fee_for(taker_amount, bps) == fee


def test_build_order_refuses_bad_expiry() -> None:
    with pytest.raises(WalletInputError, match="expiry"):
        build_order(
            CONFIG, WETH_USDC, Side.SELL, Fraction(1), Fraction(1), MAKER, expiry=2**64, salt=1
        )
    with pytest.raises(WalletInputError, match="expiry"):
        sign_limit_order(
            CONFIG, WETH_USDC, Side.SELL, Fraction(1), Fraction(1), KEY, expiry_seconds=0
        )


def _mutated(path: tuple[str, ...], value: object) -> dict[str, Any]:
    obj = config_json()
    target = obj
    for k in path[:-1]:
        target = target[k]
    if value is _DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


_DROP = object()
BAD_CONFIGS = [
    ("domain-name", ("domain", "name"), "0x Protocol", "refusing to sign"),
    ("domain-version", ("domain", "version"), "2", "refusing to sign"),
    ("domain-chain", ("domain", "chainId"), 1, "refusing to sign"),
    ("domain-contract", ("domain", "verifyingContract"), "0x" + "55" * 20, "refusing to sign"),
    ("domain-extra-salt", ("domain", "salt"), "0x" + "00" * 32, "refusing to sign"),
    ("no-domain", ("domain",), _DROP, "lacks 'domain'"),
    ("no-types", ("types",), _DROP, "lacks 'types'"),
    ("order-type-reordered", ("types", "Order"), EIP712_TYPES["Order"][::-1], "Order type"),
    ("domain-type-short", ("types", "EIP712Domain"), EIP712_TYPES["EIP712Domain"][:3], "Domain"),
    ("primary-type", ("primaryType",), "CancelOrder", "primaryType"),
    ("fee-without-recipient", ("feeBps",), 30, "feeRecipient is 0x0"),
    ("fee-over-100pct", ("feeBps",), 10_001, "outside 0..10000"),
    ("fee-float", ("feeBps",), 0.5, "feeBps must be an integer"),
    ("chain-id-bool", ("chainId",), True, "chainId must be an integer"),
    ("bad-exchange", ("exchange",), "0x1234", "exchange"),
    ("token-decimals", ("tokens", "WETH", "decimals"), 78, "impossible decimals"),
    ("token-address", ("tokens", "USDC", "address"), "USDC", "tokens.USDC.address"),
    ("tokens-list", ("tokens",), [], "tokens must be a JSON object"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_order_configs_a_wallet_must_not_sign_for(
    path: tuple[str, ...], value: object, message: str
) -> None:
    with pytest.raises(NodeProtocolError, match=message):
        OrderConfig.from_json(_mutated(path, value))


def test_order_config_accepts_string_chain_id_and_checksummed_addresses() -> None:
    from sdex.order import to_checksum

    raw = config_json()
    raw["domain"] = {**raw["domain"], "chainId": "31337"}
    raw["domain"]["verifyingContract"] = to_checksum(EXCHANGE)
    raw["exchange"] = to_checksum(EXCHANGE)
    assert OrderConfig.from_json(raw) == CONFIG


# -- soft cancel -------------------------------------------------------------------------------


def test_soft_cancel_signature() -> None:
    order_hash = keccak(b"some order")
    sig = sign_cancel(DOMAIN, order_hash, KEY)
    assert recover_signer(DOMAIN.cancel_digest(order_hash), sig) == MAKER
    # The digest is EIP-712 CancelOrder(bytes32 orderHash) as a wallet signs it (v4) ...
    msg = encode_typed_data(full_message=DOMAIN.cancel_typed_data(order_hash))
    assert DOMAIN.cancel_digest(order_hash) == keccak(b"\x19" + msg.version + msg.header + msg.body)
    wallet = Account.sign_typed_data(KEY, full_message=DOMAIN.cancel_typed_data(order_hash))
    assert bytes(wallet.signature) == sig
    # ... bound to the domain and the order: it cancels nothing else.
    other = Domain(1, EXCHANGE)
    assert recover_signer(other.cancel_digest(order_hash), sig) != MAKER
    assert recover_signer(DOMAIN.cancel_digest(keccak(b"other")), sig) != MAKER
    # and it is not an order signature
    assert DOMAIN.cancel_digest(order_hash) != DOMAIN.order_hash(
        Order(MAKER, ZERO_ADDRESS, WETH, USDC, 1, 1, ZERO_ADDRESS, 0, 1, 1)
    )


def test_soft_cancel_needs_a_32_byte_hash() -> None:
    with pytest.raises(WalletInputError):
        sign_cancel(DOMAIN, b"\x01" * 31, KEY)
