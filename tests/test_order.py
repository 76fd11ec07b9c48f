"""The order model: hash parity with eth-account, strict JSON parsing, signature rules."""

from __future__ import annotations

import copy

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.errors import FieldCode, OrderParseError, SignatureError
from sdex.order import (
    SECP256K1_N,
    UINT64_MAX,
    UINT256_MAX,
    ZERO_ADDRESS,
    Domain,
    Order,
    SignedOrder,
    address_of,
    recover_signer,
    sign_order,
    to_checksum,
    validity_errors,
)

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
MAKER = address_of(KEY)
DOMAIN = Domain(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3")
WETH = "0x" + "11" * 20
USDC = "0x" + "22" * 20

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uint256 = st.one_of(
    st.integers(0, UINT256_MAX), st.sampled_from([0, 1, 2**128, UINT256_MAX, UINT256_MAX - 1])
)
orders = st.builds(
    Order,
    maker=addresses,
    taker=addresses,
    maker_token=addresses,
    taker_token=addresses,
    maker_amount=uint256,
    taker_amount=uint256,
    fee_recipient=addresses,
    fee_amount=uint256,
    expiry=st.integers(0, UINT64_MAX),
    salt=uint256,
)


def base_order(**kw: object) -> Order:
    fields: dict[str, object] = {
        "maker": MAKER,
        "taker": ZERO_ADDRESS,
        "maker_token": WETH,
        "taker_token": USDC,
        "maker_amount": 10**18,
        "taker_amount": 3_000 * 10**6,
        "fee_recipient": ZERO_ADDRESS,
        "fee_amount": 0,
        "expiry": 2_000_000_000,
        "salt": 42,
    }
    fields.update(kw)
    return Order(**fields)  # type: ignore[arg-type]


def eth_account_digest(domain: Domain, order: Order) -> bytes:
    msg = encode_typed_data(full_message=domain.typed_data(order))
    return keccak(b"\x19" + msg.version + msg.header + msg.body)


@settings(max_examples=300, deadline=None)
@given(order=orders, chain_id=st.integers(1, 2**64), contract=addresses)
def test_direct_hash_equals_eth_account(order: Order, chain_id: int, contract: str) -> None:
    domain = Domain(chain_id, contract)
    assert domain.order_hash(order) == eth_account_digest(domain, order)


@settings(max_examples=200, deadline=None)
@given(order=orders)
def test_json_round_trip(order: Order) -> None:
    assert Order.from_json(order.to_json()) == order
    assert all(isinstance(v, str) for v in order.to_json().values())


def test_signature_matches_eth_account_and_recovers() -> None:
    order = base_order()
    signed = sign_order(order, DOMAIN, KEY)
    wallet = Account.from_key(KEY).sign_typed_data(full_message=DOMAIN.typed_data(order))
    assert signed.signature == bytes(wallet.signature)
    assert recover_signer(signed.hash, signed.signature) == MAKER
    # v as 0/1 (some wallets and hardware signers) recovers to the same maker
    v01 = signed.signature[:64] + bytes([signed.signature[64] - 27])
    assert recover_signer(signed.hash, v01) == MAKER


def test_signed_order_json_round_trip() -> None:
    signed = sign_order(base_order(), DOMAIN, KEY)
    parsed = SignedOrder.from_json(signed.to_json(), DOMAIN)
    assert parsed == signed
    assert parsed.hash_hex == "0x" + signed.hash.hex()


def _with_high_s(sig: bytes) -> bytes:
    s = int.from_bytes(sig[32:64], "big")
    v = sig[64]
    return sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s[:64], "65 bytes"),
        (lambda s: s + b"\x00", "65 bytes"),
        (lambda s: s[:64] + b"\x1d", "v must be"),
        (_with_high_s, "upper half"),
        (lambda s: bytes(32) + s[32:], "out of range"),
    ],
    ids=["short", "long", "bad-v", "high-s", "zero-r"],
)
def test_bad_signatures_rejected(mutate: object, message: str) -> None:
    signed = sign_order(base_order(), DOMAIN, KEY)
    with pytest.raises(SignatureError, match=message):
        recover_signer(signed.hash, mutate(signed.signature))  # type: ignore[operator]


def test_high_s_twin_is_a_valid_curve_signature_we_still_reject() -> None:
    """The malleable twin verifies mathematically (eth-account accepts it); we don't."""
    signed = sign_order(base_order(), DOMAIN, KEY)
    twin = _with_high_s(signed.signature)
    with pytest.raises(SignatureError):
        recover_signer(signed.hash, twin)


def test_other_domain_gives_other_hash() -> None:
    order = base_order()
    assert DOMAIN.order_hash(order) != Domain(1, DOMAIN.verifying_contract).order_hash(order)
    assert DOMAIN.order_hash(order) != Domain(31337, "0x" + "33" * 20).order_hash(order)


GOOD = sign_order(base_order(), DOMAIN, KEY).to_json()


def _set(field: str, value: object) -> dict[str, object]:
    obj: dict[str, object] = copy.deepcopy(GOOD)  # type: ignore[arg-type]
    obj[field] = value
    return obj


def _drop(field: str) -> dict[str, object]:
    obj: dict[str, object] = copy.deepcopy(GOOD)  # type: ignore[arg-type]
    del obj[field]
    return obj


BAD_ORDERS = [
    ("missing-maker", _drop("maker"), "maker", FieldCode.REQUIRED_FIELD),
    ("missing-signature", _drop("signature"), "signature", FieldCode.REQUIRED_FIELD),
    ("short-address", _set("maker", "0x1234"), "maker", FieldCode.INVALID_ADDRESS),
    ("no-0x", _set("taker", "00" * 20), "taker", FieldCode.INVALID_ADDRESS),
    ("bad-checksum", _set("makerToken", "0x" + "aB" * 20), "makerToken", FieldCode.INVALID_ADDRESS),
    (
        "non-hex-address",
        _set("takerToken", "0x" + "zz" * 20),
        "takerToken",
        FieldCode.INVALID_ADDRESS,
    ),
    ("address-not-string", _set("feeRecipient", 12), "feeRecipient", FieldCode.INVALID_ADDRESS),
    ("float-amount", _set("makerAmount", 1.5), "makerAmount", FieldCode.INCORRECT_FORMAT),
    ("float-string", _set("makerAmount", "1.5"), "makerAmount", FieldCode.INCORRECT_FORMAT),
    ("exponent", _set("takerAmount", "1e18"), "takerAmount", FieldCode.INCORRECT_FORMAT),
    ("hex-amount", _set("takerAmount", "0x10"), "takerAmount", FieldCode.INCORRECT_FORMAT),
    ("negative", _set("feeAmount", "-1"), "feeAmount", FieldCode.VALUE_OUT_OF_RANGE),
    ("negative-int", _set("feeAmount", -1), "feeAmount", FieldCode.INCORRECT_FORMAT),
    # every uint is a decimal string (PRODUCT.md): a JSON number is refused, ints too
    ("int-amount", _set("makerAmount", 10**18), "makerAmount", FieldCode.INCORRECT_FORMAT),
    ("int-expiry", _set("expiry", 2_000_000_000), "expiry", FieldCode.INCORRECT_FORMAT),
    ("int-zero", _set("feeAmount", 0), "feeAmount", FieldCode.INCORRECT_FORMAT),
    ("leading-zero", _set("salt", "01"), "salt", FieldCode.INCORRECT_FORMAT),
    ("bool", _set("salt", True), "salt", FieldCode.INCORRECT_FORMAT),
    ("list", _set("salt", ["1"]), "salt", FieldCode.INCORRECT_FORMAT),
    ("too-big", _set("makerAmount", str(2**256)), "makerAmount", FieldCode.VALUE_OUT_OF_RANGE),
    ("huge-digits", _set("makerAmount", "9" * 100), "makerAmount", FieldCode.VALUE_OUT_OF_RANGE),
    ("expiry-over-64", _set("expiry", str(2**64)), "expiry", FieldCode.VALUE_OUT_OF_RANGE),
    ("empty-string", _set("makerAmount", ""), "makerAmount", FieldCode.INCORRECT_FORMAT),
    ("whitespace", _set("makerAmount", " 1"), "makerAmount", FieldCode.INCORRECT_FORMAT),
    ("sig-not-hex", _set("signature", "0xzz"), "signature", FieldCode.INCORRECT_FORMAT),
    ("sig-odd-length", _set("signature", "0xabc"), "signature", FieldCode.INCORRECT_FORMAT),
    # bytes.fromhex skips whitespace: none may pass, wherever it is
    ("sig-space", _set("signature", "0xab cd"), "signature", FieldCode.INCORRECT_FORMAT),
    ("sig-trailing-nl", _set("signature", "0xabcd\n"), "signature", FieldCode.INCORRECT_FORMAT),
    ("sig-leading-tab", _set("signature", "0x\tabcd"), "signature", FieldCode.INCORRECT_FORMAT),
    ("sig-0X", _set("signature", "0Xabcd"), "signature", FieldCode.INCORRECT_FORMAT),
    (
        "sig-unicode-digit",
        _set("signature", "0x\u0661\u0662"),
        "signature",
        FieldCode.INCORRECT_FORMAT,
    ),
    ("sig-not-string", _set("signature", 5), "signature", FieldCode.INCORRECT_FORMAT),
]


@pytest.mark.parametrize(
    ("obj", "field", "code"), [c[1:] for c in BAD_ORDERS], ids=[c[0] for c in BAD_ORDERS]
)
def test_bad_order_json_names_field_and_code(obj: dict[str, object], field: str, code: int) -> None:
    with pytest.raises(OrderParseError) as info:
        SignedOrder.from_json(obj, DOMAIN)
    assert [(e.field, e.code) for e in info.value.errors] == [(field, code)]


def test_not_an_object() -> None:
    for bad in ([], "order", 5, None):
        with pytest.raises(OrderParseError) as info:
            SignedOrder.from_json(bad, DOMAIN)
        assert info.value.errors[0].code == FieldCode.INCORRECT_FORMAT


def test_every_problem_reported_at_once() -> None:
    obj = _set("maker", "nope")
    obj["makerAmount"] = 1.0
    with pytest.raises(OrderParseError) as info:
        SignedOrder.from_json(obj, DOMAIN)
    assert {e.field for e in info.value.errors} == {"maker", "makerAmount"}


def test_checksummed_and_upper_case_addresses_accepted_and_canonicalised() -> None:
    checksummed = to_checksum(WETH.replace("11", "ab"))
    assert Order.from_json({**GOOD, "makerToken": checksummed}).maker_token == checksummed.lower()
    upper = "0x" + WETH[2:].replace("11", "AB").upper()
    assert Order.from_json({**GOOD, "makerToken": upper}).maker_token == upper.lower()
    assert to_checksum(checksummed.lower()) == checksummed


VALIDITY = [
    ("ok", {}, []),
    ("zero-maker-amount", {"maker_amount": 0}, ["makerAmount"]),
    ("maker-amount-2^255", {"maker_amount": 2**255}, ["makerAmount"]),
    ("zero-taker-amount", {"taker_amount": 0, "fee_amount": 0}, ["takerAmount"]),
    (
        "fee-above-taker-amount",
        {"fee_amount": 3_000 * 10**6 + 1, "fee_recipient": USDC},
        ["feeAmount"],
    ),
    ("fee-without-recipient", {"fee_amount": 1}, ["feeRecipient"]),
    ("same-tokens", {"taker_token": WETH}, ["takerToken"]),
    ("zero-maker", {"maker": ZERO_ADDRESS}, ["maker"]),
]


@pytest.mark.parametrize(
    ("edits", "fields"), [v[1:] for v in VALIDITY], ids=[v[0] for v in VALIDITY]
)
def test_validity_rules_mirror_the_contract(edits: dict[str, object], fields: list[str]) -> None:
    assert [e.field for e in validity_errors(base_order(**edits))] == fields


def test_soft_cancel_digest_equals_eth_account() -> None:
    h = bytes(range(32))
    msg = encode_typed_data(full_message=DOMAIN.cancel_typed_data(h))
    assert DOMAIN.cancel_digest(h) == keccak(b"\x19" + msg.version + msg.header + msg.body)


def test_bad_checksum_refused_also_after_the_same_address_was_accepted() -> None:
    """Addresses that passed are remembered as sent: another spelling is checked anew."""
    good = to_checksum(WETH.replace("11", "cd"))
    assert Order.from_json({**GOOD, "makerToken": good}).maker_token == good.lower()
    bad = "0x" + "".join(c.swapcase() if c.isalpha() else c for c in good[2:])
    with pytest.raises(OrderParseError):
        Order.from_json({**GOOD, "makerToken": bad})


def test_keccak_is_the_direct_one_and_equals_eth_hash_across_threads() -> None:
    """sdex.keccak calls pycryptodome's C functions on pooled states: it must give
    eth-hash's answer for any length and input type, also from many threads at once."""
    import threading

    from eth_hash.auto import keccak as eth_keccak

    from sdex.keccak import keccak as fast

    assert fast is not eth_keccak  # the direct path is in use in this environment
    inputs = [bytes(range(256)) * (n // 256 + 1) for n in range(0, 700, 13)]
    inputs = [b[:n] for b, n in zip(inputs, range(0, 700, 13), strict=True)]
    want = [eth_keccak(b) for b in inputs]
    assert [fast(b) for b in inputs] == want
    assert fast(bytearray(inputs[5])) == want[5] and fast(memoryview(inputs[7])) == want[7]
    wrong: list[int] = []

    def worker() -> None:
        for _ in range(200):
            for i, b in enumerate(inputs):
                if fast(b) != want[i]:
                    wrong.append(i)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not wrong and not any(t.is_alive() for t in threads)


def test_orders_copy_and_pickle_alike_compiled_or_not() -> None:
    """(Review finding: the compiled classes refused copy and pickle; the source did not.)"""
    import copy
    import pickle

    key = (7).to_bytes(32, "big")
    domain = Domain(31337, "0x" + "ab" * 20)
    o = Order(
        address_of(key), ZERO_ADDRESS, "0x" + "01" * 20, "0x" + "02" * 20,
        2**256 - 1, 3000, ZERO_ADDRESS, 0, 2**64 - 1, 5,
    )  # fmt: skip
    signed = sign_order(o, domain, key)
    for x in (o, domain, signed):
        for twin in (copy.copy(x), copy.deepcopy(x), pickle.loads(pickle.dumps(x))):
            assert twin == x and type(twin) is type(x)
    assert pickle.loads(pickle.dumps(domain)).separator == domain.separator
