"""``sdex audit`` with the chain as its own order source: each settlement transaction's
calldata holds the signed orders it settled. A clean chain audits clean with no node and no
file; calldata that differs from the fills is caught; a fill sent through another contract
says why it has no order; hostile calldata and transaction answers are refused."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_abi.abi import decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.audit import audit_network, collect
from sdex.audit.calldata import CalldataError, decode_packed, decode_settlement
from sdex.chain import Exchange, Rpc, Token, deploy, load_abi
from sdex.cli import main
from sdex.fillmath import UINT256_MAX
from sdex.order import ZERO_ADDRESS, Order, SignedOrder
from tests.conftest import Chain
from tests.test_audit import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    E6,
    E18,
    OPERATOR,
    ask,
    bid,
    rpc_gate,
    settle,
    write_orders,
)


def _saved(c: Chain, tmp_path: Path) -> str:
    path = tmp_path / "d.json"
    c.deployment.save(path)
    return str(path)


def test_the_chain_alone_audits_clean(chain: Chain, tmp_path: Path) -> None:
    """``sdex audit --deployment PATH``, no node, no file: every fill's order comes from its
    transaction's calldata, by every settlement entry point, and every check runs on it (it
    was a usage error, exit 2; before that each fill was a ``missing_order``, exit 1)."""
    c = chain
    story = settle(c)  # matchOrders, fillOrder, batchMatchOrders (one match skipped)
    left, right = ask(c, ALICE, E18, 3000 * E6), bid(c, BOB, E18, 3000 * E6)
    c.exchange.match_orders_packed(c.sender(OPERATOR), left, right)
    facts = collect(c.deployment)
    assert sorted(facts.chain.decoded.values()) == [
        "batchMatchOrders", "fillOrder", "matchOrders", "matchOrdersPacked",
    ]  # fmt: skip
    assert facts.chain.undecoded == {}
    filled = [story.resting, story.filled, story.taken, *story.orders[3:5], left, right]
    assert sorted((o.signed.hash, o.signed.signature) for o in facts.orders) == sorted(
        (s.hash, s.signature) for s in filled
    )  # the skipped match's too-cheap order fills nothing: left out
    r = CliRunner().invoke(main, ["audit", "--deployment", _saved(c, tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["ok"] is True
    checked = {k: v for k, v in out["checked"].items() if not k.startswith(("node", "books"))}
    assert checked == {
        "order_found": 7, "order_hash": 0, "signature": 7, "parties": 7, "limit_price": 7,
        "fee": 7, "fillable": 7, "overfill": 7, "match": 3, "transfers": 4,
    }  # fmt: skip
    assert out["read"]["calldataDecoded"] == out["read"]["settlementTxs"] == 4
    r = CliRunner().invoke(main, ["audit", "--deployment", _saved(c, tmp_path)])
    assert r.exit_code == 0 and "clean" in r.stdout, r.output
    assert "calldata of 4 of 4 settlement txs decoded" in " ".join(r.stdout.split())


def _tx_input(tx_hash: str, change: Callable[[bytearray], None]) -> Callable[..., None]:
    """A gate mangle: the ``input`` of transaction ``tx_hash``, changed by ``change``."""

    def mangle(method: str, answer: dict[str, Any]) -> None:
        result = answer.get("result")
        if method == "eth_getTransactionByHash" and result and result["hash"] == tx_hash:
            data = bytearray.fromhex(result["input"][2:])
            change(data)
            result["input"] = "0x" + data.hex()

    return mangle


def _flip(at: int) -> Callable[[bytearray], None]:
    def change(data: bytearray) -> None:
        data[at] ^= 0x01

    return change


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # fillOrder: selector, the order (10 static words), signature offset, takerFillAmount,
        # then the signature's length word and its 65 bytes padded to 96
        ("fillOrder: takerAmount changed", {"missing_order"}),
        ("fillOrder: signature changed", {"bad_signature"}),
        ("batch: a signature changed", {"bad_signature"}),
        ("batch: an order's salt changed", {"missing_order"}),
    ],
)
def test_calldata_that_differs_from_the_fills_is_caught(
    chain: Chain, tmp_path: Path, case: str, expected: set[str]
) -> None:
    """An endpoint whose transactions' calldata is not what was settled: an order changed
    hashes to no fill (``missing_order``, naming the calldata), a signature changed does not
    sign the order. With an orders file that holds the real order, the fill is checked
    against it and the changed calldata order, whose hash no fill names, is ignored."""
    c = chain
    story = settle(c)
    taken = next(f for f in story.fills if f.order_hash == story.taken.hash)
    batch = next(f for f in story.fills if f.order_hash == story.orders[3].hash)
    tx, victim = (taken.tx_hash, story.taken) if "fillOrder" in case else (batch.tx_hash, None)
    if case == "fillOrder: takerAmount changed":
        change = _flip(4 + 6 * 32 - 1)
    elif case == "fillOrder: signature changed":
        change = _flip(-96 + 10)
    elif case == "batch: a signature changed":
        # the second order's (half's) signature: before the third's and pairs[] (2 × 3 words)
        change = _flip(-(32 + 2 * 96) - 128 - 96 + 10)
    else:
        change = _flip(4 + 3 * 32 + 32 + 10 * 32 - 1)  # orders[0].salt (batch_ask)
        victim = story.orders[3]
    with rpc_gate(c.deployment.rpc) as gate:
        gate.mangle = _tx_input(tx, change)
        rpc = f"http://127.0.0.1:{gate.server_address[1]}"
        report = audit_network(c.deployment, rpc=rpc)
        assert report.kinds() == expected, report.to_json()
        d = report.discrepancies[0]
        if "missing_order" in expected:
            assert victim is not None and d.order_hash == victim.hash_hex and d.tx_hash == tx
            assert "the calldata of its transaction" in d.detail
            assert "holds no order with this hash" in d.detail
            path = write_orders(tmp_path / "o.json", [victim.to_json()])
            args = ["audit", "--deployment", _saved(c, tmp_path), "--rpc", rpc]
            r = CliRunner().invoke(main, [*args, "--orders", str(path)])
            assert r.exit_code == 0, r.output
        else:
            assert d.source == f"calldata of {tx}"
        r = CliRunner().invoke(main, ["audit", "--deployment", _saved(c, tmp_path), "--rpc", rpc])
        assert r.exit_code == 1, r.output


def test_a_fill_sent_through_another_contract_needs_another_source(
    chain: Chain, tmp_path: Path
) -> None:
    """A match sent to a token contract that calls ``matchOrders`` (a router, a wallet):
    the transaction's calldata is the token's, so its fills are ``missing_order`` naming
    why, until an orders file (or a node) holds the orders."""
    c = chain
    token = Token(c.rpc, deploy(c.sender(OPERATOR), "ReentrantToken"))
    token.abi = load_abi("ReentrantToken")
    left, right = ask(c, ALICE, E18, 3000 * E6), bid(c, BOB, E18, 3000 * E6)
    call = c.exchange.abi.fn("matchOrders").encode(
        left.order.to_tuple(), left.signature, right.order.to_tuple(), right.signature,
        UINT256_MAX,
    )  # fmt: skip
    token.send(c.sender(OPERATOR), "setReentry", c.deployment.exchange, call)
    op = c.address(OPERATOR)
    receipt = token.send(c.sender(OPERATOR), "transferFrom", op, op, 0)
    assert len(c.exchange.fills(receipt.logs)) == 2
    deployment = _saved(c, tmp_path)
    r = CliRunner().invoke(main, ["audit", "--deployment", deployment, "--json"])
    assert r.exit_code == 1, r.output
    found = json.loads(r.stdout)["discrepancies"]
    assert [(d["kind"], d["orderHash"]) for d in found] == [
        ("missing_order", left.hash_hex), ("missing_order", right.hash_hex),
    ]  # fmt: skip
    assert f"was sent to {token.address}, not the Exchange" in found[0]["detail"]
    path = write_orders(tmp_path / "o.json", [left.to_json(), right.to_json()])
    r = CliRunner().invoke(main, ["audit", "--deployment", deployment, "--orders", str(path)])
    assert r.exit_code == 0, r.output


def _tx_answer(change: Callable[[dict[str, Any]], Any]) -> Callable[..., None]:
    def mangle(method: str, answer: dict[str, Any]) -> None:
        if method == "eth_getTransactionByHash" and answer.get("result"):
            answer["result"] = change(answer["result"])

    return mangle


def _set(**fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda tx: {**tx, **fields}


HOSTILE_TX = [
    ("null", _tx_answer(lambda tx: None)),
    ("a-string", _tx_answer(lambda tx: "hello")),
    ("another-transaction", _tx_answer(_set(hash="0x" + "ab" * 32))),
    ("no-hash", _tx_answer(lambda tx: {k: v for k, v in tx.items() if k != "hash"})),
    ("input-not-hex", _tx_answer(_set(input="0xzz"))),
    ("input-odd-length", _tx_answer(lambda tx: {**tx, "input": tx["input"] + "0"})),
    ("input-a-number", _tx_answer(_set(input=5))),
    ("no-input", _tx_answer(lambda tx: {k: v for k, v in tx.items() if k != "input"})),
    ("to-not-an-address", _tx_answer(_set(to="0x1234"))),
    ("to-a-list", _tx_answer(_set(to=[1]))),
    ("input-too-large", _tx_answer(lambda tx: {**tx, "input": tx["input"] + "00" * 4096})),
    # (audit62: its signer and nonce tell a node's settlements after its cancels)
    ("from-not-an-address", _tx_answer(_set(**{"from": "0x1234"}))),
    ("no-nonce", _tx_answer(lambda tx: {k: v for k, v in tx.items() if k != "nonce"})),
    ("nonce-a-number", _tx_answer(_set(nonce=5))),
]


@pytest.mark.parametrize("mangle", [m for _, m in HOSTILE_TX], ids=[i for i, _ in HOSTILE_TX])
def test_a_hostile_transaction_answer_cannot_audit(
    chain: Chain, tmp_path: Path, mangle: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``eth_getTransactionByHash`` answers that are not a transaction, or not the one asked
    for, or too large: "cannot audit", exit 2, one line, never a traceback."""
    monkeypatch.setattr("sdex.audit.calldata.MAX_CALLDATA", 2048)  # the batch's is ~1.5 KiB
    c = chain
    settle(c)
    deployment = _saved(c, tmp_path)
    with rpc_gate(c.deployment.rpc) as gate:
        gate.mangle = mangle
        rpc = f"http://127.0.0.1:{gate.server_address[1]}"
        for extra in ([], ["--json"]):
            r = CliRunner().invoke(
                main, ["audit", "--deployment", deployment, "--rpc", rpc, *extra]
            )
            assert r.exit_code == 2, (r.output, r.exception)
            assert r.stdout == "" and r.stderr.startswith("cannot audit: the JSON-RPC endpoint")
            assert "unreadable answer" in r.stderr and "eth_getTransactionByHash" not in r.stdout
            assert len(r.stderr.strip().splitlines()) == 1


# -- decoding, pure ------------------------------------------------------------------------

ADDRESS = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
UINT = st.one_of(st.integers(0, 2**256 - 1), st.sampled_from([0, 1, 2**128, 2**256 - 1]))


@st.composite
def packed_pairs(draw: st.DrawFn) -> tuple[SignedOrder, SignedOrder, int]:
    tokens = (draw(ADDRESS), draw(ADDRESS))

    def one(maker_token: str, taker_token: str) -> SignedOrder:
        has_fee = draw(st.booleans())
        order = Order(
            draw(ADDRESS), draw(st.one_of(st.just(ZERO_ADDRESS), ADDRESS)),
            maker_token, taker_token, draw(UINT), draw(UINT),
            draw(ADDRESS) if has_fee else ZERO_ADDRESS, draw(UINT) if has_fee else 0,
            draw(st.integers(0, 2**64 - 1)), draw(UINT),
        )  # fmt: skip
        return SignedOrder(order, draw(st.binary(max_size=200)), b"")

    return one(*tokens), one(tokens[1], tokens[0]), draw(UINT)


@settings(max_examples=200, deadline=None)
@given(packed_pairs())
def test_packed_match_decodes_to_what_was_encoded(
    match: tuple[SignedOrder, SignedOrder, int],
) -> None:
    left, right, cap = match
    data = Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20).encode_match_packed(
        left, right, cap
    )
    name, pairs = decode_settlement(data)
    assert name == "matchOrdersPacked"
    assert pairs == [(left.order, left.signature), (right.order, right.signature)]


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[SignedOrder, SignedOrder, int]]:
    def one() -> SignedOrder:
        order = Order(
            draw(ADDRESS), draw(ADDRESS), draw(ADDRESS), draw(ADDRESS), draw(UINT), draw(UINT),
            draw(ADDRESS), draw(UINT), draw(st.integers(0, 2**64 - 1)), draw(UINT),
        )  # fmt: skip
        return SignedOrder(
            order, draw(st.binary(max_size=100)), draw(st.binary(min_size=32, max_size=32))
        )

    return [(one(), one(), draw(UINT)) for _ in range(draw(st.integers(0, 4)))]


@settings(max_examples=200, deadline=None)
@given(batches())
def test_batch_decodes_as_eth_abi_does(matches: list[tuple[SignedOrder, SignedOrder, int]]) -> None:
    """The direct ``batchMatchOrders`` reader against eth_abi on the artifact's ABI types."""
    data = Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20).encode_batch(matches)
    fn = load_abi("Exchange").fn("batchMatchOrders")
    orders, signatures, _ = decode(list(fn.input_types), data[4:])
    name, pairs = decode_settlement(data)
    assert name == "batchMatchOrders"
    assert pairs == [
        (Order(*(v.lower() if isinstance(v, str) else v for v in o)), bytes(sig))
        for o, sig in zip(orders, signatures, strict=True)
    ]


def _batch_data(n: int) -> bytes:
    """A well-formed ``batchMatchOrders`` calldata of ``n`` orders (one pair)."""
    o = Order(*(["0x" + "22" * 20] * 4), 5, 6, ZERO_ADDRESS, 0, 7, 8)  # type: ignore[arg-type]
    orders = [SignedOrder(o, bytes([i]) * 65, bytes([i]) * 32) for i in range(n)]
    ex = Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20)
    return ex.encode_batch([(orders[0], orders[-1], 9)])


def _aliased_signatures() -> bytes:
    """batchMatchOrders of 100 orders whose 100 signature offsets all point at one 64 KiB
    signature: eth_abi would decode 6.5 MB out of ~100 KB."""
    w = lambda x: x.to_bytes(32, "big")  # noqa: E731
    n, size = 100, 65536
    orders = w(n) + bytes(320 * n)
    signatures = w(n) + b"".join(w(32 * n) for _ in range(n)) + w(size) + bytes(size)
    at_signatures = 96 + len(orders)
    head = w(96) + w(at_signatures) + w(at_signatures + len(signatures))
    sel = load_abi("Exchange").fn("batchMatchOrders").selector
    return sel + head + orders + signatures + w(0)


def _dirty(data: bytes, at: int) -> bytes:
    return data[:at] + b"\x01" + data[at + 1 :]


def _packed(flags: int, tail: bytes = b"") -> bytes:
    return load_abi("Exchange").fn("matchOrdersPacked").selector + bytes([flags]) + tail


HOSTILE_CALLDATA = [
    ("empty", b""),
    ("another-function", load_abi("Exchange").fn("cancelOrder").selector + bytes(320)),
    ("batch-truncated", _batch_data(2)[:-40]),
    ("batch-array-length-huge", _batch_data(2)[: 4 + 96] + (2**255).to_bytes(32, "big")),
    ("packed-unknown-flags", _packed(0x20, bytes(200))),
    ("packed-short", _packed(0, bytes(30))),
    ("packed-uint-of-33-bytes", _packed(16, bytes([33]) + bytes(200))),
    ("fillOrder-truncated", load_abi("Exchange").fn("fillOrder").selector + bytes(100)),
]


@pytest.mark.parametrize(
    "data", [d for _, d in HOSTILE_CALLDATA], ids=[i for i, _ in HOSTILE_CALLDATA]
)
def test_hostile_calldata_is_refused(data: bytes) -> None:
    with pytest.raises(CalldataError):
        decode_settlement(data)


BATCH_ENTRIES_LEFT_OUT = [
    # (case, calldata, how many of its orders are read)
    ("aliased-signatures", _aliased_signatures(), 1),  # (64 KiB each: 1 fits in ~100 KB)
    ("dirty-address", _dirty(_batch_data(2), 4 + 96 + 32 + 320 + 32 * 2), 1),
    ("dirty-expiry", _dirty(_batch_data(2), 4 + 96 + 32 + 32 * 8 + 20), 1),
]


@pytest.mark.parametrize(
    ("data", "read"),
    [(d, n) for _, d, n in BATCH_ENTRIES_LEFT_OUT],
    ids=[i for i, _, _ in BATCH_ENTRIES_LEFT_OUT],
)
def test_batch_entries_the_contract_cannot_read_are_left_out(data: bytes, read: int) -> None:
    """An order with dirty high bits, or a signature past the bound on all signatures (no
    more bytes of them than the calldata has), is left out; the others are read (the
    contract settles a batch's other matches: ``test_a_batch_is_read_as_the_contract_read_it``)."""
    name, pairs = decode_settlement(data)
    assert name == "batchMatchOrders" and len(pairs) == read
    assert sum(len(sig) for _, sig in pairs) <= len(data)


def test_packed_with_bytes_left_over_is_refused() -> None:
    o = Order(*(["0x" + "22" * 20] * 4), 5, 6, ZERO_ADDRESS, 0, 7, 8)  # type: ignore[arg-type]
    r = Order(o.maker, o.taker, o.taker_token, o.maker_token, 6, 5, ZERO_ADDRESS, 0, 7, 9)
    ex = Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20)
    data = ex.encode_match_packed(SignedOrder(o, b"s", b""), SignedOrder(r, b"t", b""), 3)
    assert len(decode_packed(data[4:])) == 2
    with pytest.raises(CalldataError, match="after the packed match"):
        decode_packed(data[4:] + b"\x00")


# -- batches the contract settles though some of their entries are junk (review14) ---------


def _row(order: Order) -> bytes:
    """An order's ten ABI words."""
    return encode(ORDER_WORDS, dataclasses.astuple(order))


ORDER_WORDS = ["address"] * 4 + ["uint256"] * 2 + ["address", "uint256", "uint64", "uint256"]


def _raw_batch(
    rows: list[bytes], signatures: list[bytes | int | None], pairs: list[tuple[int, int]]
) -> bytes:
    """``batchMatchOrders`` calldata written word by word, so that it may carry what no
    encoder writes: order ``rows`` (ten words each), ``signatures`` (None: an offset far
    past the calldata; an int: that offset word, no bytes) and ``pairs`` of indices (no
    cap)."""
    w = lambda x: x.to_bytes(32, "big")  # noqa: E731
    orders = w(len(rows)) + b"".join(rows)
    heads, tails, at = [], b"", 32 * len(signatures)
    for sig in signatures:
        if isinstance(sig, int):  # (an offset word as given)
            heads.append(w(sig))
            continue
        heads.append(w(at if sig is not None else 2**40))
        if sig is not None:
            padded = w(len(sig)) + sig + bytes(-len(sig) % 32)
            tails += padded
            at += len(padded)
    sigs = w(len(signatures)) + b"".join(heads) + tails
    matches = w(len(pairs)) + b"".join(w(a) + w(b) + w(UINT256_MAX) for a, b in pairs)
    head = w(96) + w(96 + len(orders)) + w(96 + len(orders) + len(sigs))
    return load_abi("Exchange").fn("batchMatchOrders").selector + head + orders + sigs + matches


def _audit_alone(c: Chain, tmp_path: Path) -> dict[str, Any]:
    r = CliRunner().invoke(main, ["audit", "--deployment", _saved(c, tmp_path), "--json"])
    out: dict[str, Any] = json.loads(r.stdout)
    out["exit"] = r.exit_code
    return out


def _dirty_row(order: Order) -> bytes:
    return b"\x01" + _row(order)[1:]  # (the maker word's high byte)


# (rows, signatures, more pairs) of a batch beside its match (0, 1) of L and R: junk the
# contract settles the match beside (a pair naming a dirty order reverts the whole batch)
JUNK_BATCHES: dict[str, Callable[[SignedOrder, SignedOrder], tuple[Any, Any, Any]]] = {
    "an order no pair names, its maker dirty": lambda L, R: (
        [_row(L.order), _row(R.order), _dirty_row(L.order)], [L.signature, R.signature, b""], []
    ),
    "an order no pair names, its signature past the calldata": lambda L, R: (
        [_row(L.order), _row(R.order), _row(L.order)], [L.signature, R.signature, None], []
    ),
    "L again with a junk signature, in a pair (skipped)": lambda L, R: (
        [_row(L.order), _row(R.order), _row(L.order)],
        [L.signature, R.signature, b"\x00" * 65],
        [(2, 1)],
    ),
    # R's signature read through an offset below the signatures (negative as a signed
    # word, as Solidity's calldata reader takes it): its length and bytes in a third
    # order's words, an order no pair names (96 + 32 + 640: that row; 96 + 32 + 960 + 32:
    # where the signatures' offsets count from)
    "R's signature at a negative offset": lambda L, R: (
        [_row(L.order), _row(R.order), (65).to_bytes(32, "big") + R.signature + bytes(223)],
        [L.signature, (96 + 32 + 640 - (96 + 32 + 960 + 32)) % 2**256, b""],
        [],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(JUNK_BATCHES))
def test_a_batch_is_read_as_the_contract_read_it(chain: Chain, tmp_path: Path, case: str) -> None:
    """A batch whose one match settles, carrying beside it junk the contract never reads or
    whose match it skips: the audit reads the match's orders from the calldata and is clean.
    (The reader refused the whole transaction for a dirty order or a signature out of
    bounds, so both fills were missing_order, exit 1; and the match's order again with a
    junk signature was a bad_signature, exit 1, blaming a maker whose good signature the
    contract checked: anyone may send such a batch of orders from a public book.)"""
    c = chain
    left, right = ask(c, ALICE, E18, 3000 * E6), bid(c, BOB, E18, 3000 * E6)
    rows, signatures, pairs = JUNK_BATCHES[case](left, right)
    data = _raw_batch(rows, signatures, [(0, 1), *pairs])
    receipt = c.sender(OPERATOR).transact(c.exchange.address, data)
    assert len(c.exchange.fills(receipt.logs)) == 2
    assert len(c.exchange.skipped(receipt.logs)) == len(pairs)
    facts = collect(c.deployment)
    assert facts.chain.undecoded == {}
    assert sorted((o.signed.hash, o.signed.signature) for o in facts.orders) == sorted(
        (s.hash, s.signature) for s in (left, right)
    )
    out = _audit_alone(c, tmp_path)
    assert (out["exit"], out["ok"]) == (0, True), out


@pytest.mark.parametrize("case", ["padding-not-zero", "no-padding"])
def test_a_fill_order_whose_signature_padding_is_junk_decodes(
    chain: Chain, tmp_path: Path, case: str
) -> None:
    """``fillOrder`` whose signature's padding is not zero, or absent (the calldata ends with
    the signature's 65th byte): the contract reads the 65 bytes and settles; the audit reads
    the order from the calldata and is clean. (eth_abi's strict decoding refused both: the
    fill was a missing_order, exit 1.)"""
    c = chain
    order = bid(c, DAVE, E18, 2900 * E6)
    fn = load_abi("Exchange").fn("fillOrder")
    data = fn.selector + encode(
        list(fn.input_types), [dataclasses.astuple(order.order), order.signature, E18 // 4]
    )
    data = data[:-1] + b"\x01" if case == "padding-not-zero" else data[:-31]
    receipt = c.sender(CAROL).transact(c.exchange.address, data)
    assert len(c.exchange.fills(receipt.logs)) == 1
    facts = collect(c.deployment)
    assert facts.chain.undecoded == {}
    out = _audit_alone(c, tmp_path)
    assert (out["exit"], out["ok"]) == (0, True), out
