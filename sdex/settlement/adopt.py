"""A settlement a previous run left in the chain's pool, adopted at the start: held in the
book as the engine holds a match in flight, awaited like any broadcast of the lane (replaced
at higher fees if it stays stuck) and its outcome applied through the settler's usual path.

pool64 (reorg63's left): on a chain that does not mine on the send (mining manual or on an
interval), ``sdex.settlement.reconcile`` gave such a row up after ``RESTART_RECEIPT_WAIT``
and its orders were matched again at the next nonce: that settlement could only land after
the pooled one and reverted when it did (the operator's gas, once a pair a restart).

The row is this node's own (``sdex.storesettle`` checks its hash is its raw transaction's),
yet read as any file is: its raw transaction at most ``MAX_RAW`` bytes, a type-2
transaction of the row's nonce to the Exchange, its calldata a match the contract reads
(``sdex.chain.calldata.decode_matches``), each match naming the stored pair's orders, each
order held open in the book with what the match takes still fillable. Anything else is
``ValueError`` and nothing is held: the row is given up as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from hexbytes import HexBytes

from sdex.book.orderbook import OrderBook
from sdex.chain.calldata import MAX_CALLDATA, CalldataError, decode_matches
from sdex.chain.tx import SignedTx
from sdex.fillmath import FillMathError, match_amounts
from sdex.matching.match import Match
from sdex.order import Domain, Order, SignedOrder
from sdex.settlement.outcome import Outcome, SettledMatch
from sdex.storesettle import StoredSettlement

MAX_RAW = MAX_CALLDATA + 4096
"""Largest raw transaction adopted (bytes): its calldata's bound
(``sdex.chain.calldata.MAX_CALLDATA``) and room for its fields.

eth-account's transaction decoder, which loads the ABI codec, is imported when a restart has
a pooled row to adopt, not with the node; the calldata decoders load it at their first
decode: a node's and a wallet command's imports load no ABI codec
(``tests/test_start_imports.py``)."""


def pooled_tx(row: StoredSettlement) -> SignedTx:
    """``row``'s transaction as the lane signed it (``Sender.sign_at``): its fees (base fee,
    tip; the fee cap twice the base fee plus the tip) and body, which a replacement signs
    again. ``ValueError`` for one that is not a type-2 transaction of the row's nonce."""
    from eth_account.typed_transactions.typed_transaction import TypedTransaction

    raw = row.raw_tx.removeprefix("0x")
    if len(raw) > 2 * MAX_RAW:
        raise ValueError(f"its raw transaction is over {MAX_RAW} bytes")
    try:
        tx = TypedTransaction.from_bytes(HexBytes(bytes.fromhex(raw))).as_dict()
        tip, cap, gas = int(tx["maxPriorityFeePerGas"]), int(tx["maxFeePerGas"]), int(tx["gas"])
        nonce, value, data, to = int(tx["nonce"]), int(tx["value"]), bytes(tx["data"]), tx["to"]
    except Exception as e:  # (the decoder's own errors, of several kinds)
        raise ValueError(f"its raw transaction does not decode: {e}"[:300]) from None
    if tx.get("type") != 2 or nonce != row.nonce or cap < tip or len(bytes(to)) != 20:
        raise ValueError("not a type-2 transaction to a contract at the row's nonce")
    body = ("0x" + bytes(to).hex(), data, gas, value)
    return SignedTx(row.tx_hash, nonce, row.raw_tx, ((cap - tip) // 2, tip), body)


Closed = Callable[[bytes], tuple[SignedOrder, int] | None]
"""A one-shot (IOC, FOK) order the restart closed, by hash: its signed order and the filled
amount it was loaded with (None: no such order)."""


def adopted_matches(
    signed: SignedTx,
    pairs: Sequence[tuple[str, str]],
    book: OrderBook,
    domain: Domain,
    closed: Closed | None = None,
) -> list[Match]:
    """``signed``'s matches (sent to ``domain``'s Exchange; ``pairs``: the stored row's
    (resting, incoming) order hashes), their amounts as the contract computes them from the
    book's view of both orders (filled and in flight, the batch's earlier matches counted),
    each held in the book in flight as the engine holds a match's. An incoming order not
    open in the book may be a one-shot order the restart closed (``closed``: it never
    rests, settle65): taken as it was loaded, nothing of it held (the book does not hold
    it), its resting side held all the same; so may either side be an order its maker
    soft-cancelled (``closed`` gives it too; review96a: the row was given up, "not open in
    the book", its bytes pooled, and its other order, open again, matched again behind it).
    ``ValueError`` (nothing held) if the calldata is not these pairs' matches or the book
    cannot hold one."""
    if signed.body is None or signed.body[0] != domain.verifying_contract:
        raise ValueError("not a transaction to the Exchange")
    try:
        decoded = decode_matches(signed.body[1])
    except CalldataError as e:
        raise ValueError(str(e)) from None
    if len(decoded) != len(pairs) or not pairs:
        raise ValueError(f"{len(decoded)} matches in its calldata, {len(pairs)} stored")
    held: dict[bytes, int] = {}  # (what the matches before take of each order)
    matches: list[Match] = []
    for (left, right, cap), names in zip(decoded, pairs, strict=True):
        resting = _side(book, domain, left, names[0], closed)
        incoming = _side(book, domain, right, names[1], closed)
        try:
            amounts = match_amounts(
                left.maker_amount, left.taker_amount, left.fee_amount,
                resting.taken + held.get(resting.signed.hash, 0),
                right.maker_amount, right.taker_amount, right.fee_amount,
                incoming.taken + held.get(incoming.signed.hash, 0), cap,
            )  # fmt: skip
        except FillMathError as e:
            raise ValueError(f"its match of {names[0]} does not fill: {e}") from None
        for side, amount in ((resting, amounts.left_filled), (incoming, amounts.right_filled)):
            h = side.signed.hash
            held[h] = held.get(h, 0) + amount
            if held[h] > side.fillable:
                raise ValueError(f"the book holds less of {side.signed.hash_hex} than it takes")
        route = book.route(incoming.signed.order)[1]
        matches.append(Match(resting.signed, incoming.signed, amounts, route))
    for order_hash, amount in held.items():
        if book.find(order_hash) is not None:  # (a closed one-shot order: not the book's)
            book.reserve(order_hash, amount)
    return matches


@dataclass(frozen=True, slots=True)
class _Side:
    signed: SignedOrder
    taken: int
    """Filled and in flight."""
    fillable: int
    """What a match may take of it."""


def _side(
    book: OrderBook, domain: Domain, order: Order, hash_hex: str, closed: Closed | None
) -> _Side:
    h = domain.order_hash(order)
    e = book.find(h)
    if e is not None and e.signed.hash_hex == hash_hex and not e.closed:
        return _Side(e.signed, e.filled + e.pending, e.fillable)
    got = closed(h) if closed is not None and e is None else None
    if got is not None and got[0].hash_hex == hash_hex:
        so, filled = got
        return _Side(so, filled, so.order.maker_amount - filled)
    raise ValueError(f"order {hash_hex} is not the calldata's, or not open in the book")


COUNTED = "landed by the start: counted in the orders it loaded"
"""Why an adopted match is given back, not applied (``counted_at_start``)."""


def counted_at_start(results: list[SettledMatch], loaded: int) -> list[SettledMatch]:
    """An adopted settlement's ``results`` whose receipt was not read at its adoption (the
    chain's identity in doubt: doubt80), taken once the chain was proven ours: each match
    it settled at or below ``loaded`` (the block the start loaded its orders at) is in the
    orders' filled amounts already (review66), so it is given back as never sent, not
    applied a second time; the others as they are."""
    return [
        replace(r, outcome=Outcome.FAILED, actual=None, reason=COUNTED, fills=(), unsent=True)
        if r.outcome is Outcome.SETTLED and r.fills and r.fills[0].block_number <= loaded
        else r
        for r in results
    ]
