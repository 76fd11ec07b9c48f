"""Signed orders from the chain itself: the calldata of each settlement transaction.

A transaction sent to the Exchange carries every order it settles, with the maker's signature
(``fillOrder``, ``matchOrders``, ``matchOrdersPacked``, ``batchMatchOrders``; the ABI is read
from the compiled artifact). The audit decodes it, so that it needs no node and no order file
to check each fill against its signed order. A transaction sent to another contract (a wallet,
a router) that called the Exchange cannot be decoded: the audit names why, and its fills need
another order source.

Pure: the transactions are read by ``sdex.audit.chainread``; everything here is bytes in,
orders out. Calldata is hostile: every length is checked against the bytes there are. The
decoders themselves are the chain package's (``sdex.chain.calldata``: the settlement layer
reads its own pooled settlements with them, and imports nothing of the audit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sdex.audit.facts import OrderCopy
from sdex.chain import FillEvent
from sdex.chain.calldata import (
    MAX_CALLDATA,
    SETTLEMENT_FUNCTIONS,
    CalldataError,
    decode_batch,
    decode_matches,
    decode_packed,
    decode_settlement,
)
from sdex.chain.rpc import quantity
from sdex.errors import SignatureError
from sdex.order import Domain, SignedOrder, recover_signer

__all__ = [
    "MAX_CALLDATA",
    "SETTLEMENT_FUNCTIONS",
    "CalldataError",
    "SettlementTx",
    "calldata_orders",
    "decode_batch",
    "decode_matches",
    "decode_packed",
    "decode_settlement",
    "parse_transaction",
]


@dataclass(frozen=True, slots=True)
class SettlementTx:
    """One transaction that emitted fills, as ``eth_getTransactionByHash`` gave it."""

    tx_hash: str
    to: str | None  # None: a contract creation
    data: bytes
    sender: str = ""  # its signer (``from``), lower case
    nonce: int = -1  # the signer's nonce it took


def parse_transaction(raw: object, tx_hash: str) -> SettlementTx:
    """A ``eth_getTransactionByHash`` answer, checked: an object for ``tx_hash`` with a
    ``to`` address (or null), a ``from`` address and ``nonce`` and an ``input`` of at most
    ``MAX_CALLDATA`` bytes. Raises
    ``ValueError`` for anything else (the collector reports it as an unreadable answer)."""
    if not isinstance(raw, dict):
        what = "nothing" if raw is None else type(raw).__name__
        raise ValueError(f"eth_getTransactionByHash({tx_hash}) answered {what}")
    got = raw.get("hash")
    if not isinstance(got, str) or got.lower() != tx_hash.lower():
        raise ValueError(f"eth_getTransactionByHash({tx_hash}) answered transaction {got!r:.80}")
    to = raw.get("to")
    if to is not None and not (isinstance(to, str) and _is_hex(to, 40)):
        raise ValueError(f"transaction {tx_hash} has a 'to' that is not an address: {to!r:.80}")
    data = raw.get("input", raw.get("data"))
    if not isinstance(data, str) or not data.startswith("0x"):
        raise ValueError(f"transaction {tx_hash} has an input that is not 0x-hex")
    if len(data) > 2 + 2 * MAX_CALLDATA:
        raise ValueError(f"transaction {tx_hash} has an input beyond {MAX_CALLDATA} bytes")
    try:
        body = bytes.fromhex(data[2:])
    except ValueError:
        raise ValueError(f"transaction {tx_hash} has an input that is not 0x-hex") from None
    sender, nonce = raw.get("from"), raw.get("nonce")
    if not (isinstance(sender, str) and _is_hex(sender, 40)):
        raise ValueError(f"transaction {tx_hash} has a 'from' that is not an address")
    return SettlementTx(
        tx_hash, to.lower() if to is not None else None, body, sender.lower(), quantity(nonce)
    )


def _is_hex(s: str, digits: int) -> bool:
    return (
        len(s) == 2 + digits
        and s[:2] in ("0x", "0X")
        and all(c in "0123456789abcdefABCDEF" for c in s[2:])
    )


def calldata_orders(
    txs: Mapping[str, SettlementTx], fills: Sequence[FillEvent], domain: Domain
) -> tuple[list[OrderCopy], dict[str, str], dict[str, str]]:
    """The signed orders the settlement transactions carry, each kept once, only when its
    hash (under ``domain``) is that of a fill of its own transaction; then, by transaction,
    the entry point decoded, and why a transaction's calldata gave no orders."""
    hashes: dict[str, set[bytes]] = {}
    for e in fills:
        hashes.setdefault(e.tx_hash, set()).add(e.order_hash)
    copies: dict[tuple[bytes, bytes], OrderCopy] = {}
    decoded: dict[str, str] = {}
    undecoded: dict[str, str] = {}
    exchange = domain.verifying_contract
    for tx_hash, tx in txs.items():
        if tx.to != exchange:
            undecoded[tx_hash] = (
                f"its transaction {tx_hash} was sent to {tx.to or 'no address'}, not the "
                "Exchange, so its calldata cannot be decoded"
            )
            continue
        try:
            name, pairs = decode_settlement(tx.data)
        except CalldataError as e:
            undecoded[tx_hash] = f"its transaction {tx_hash}: {e}"
            continue
        decoded[tx_hash] = name
        signed_by: dict[bytes, dict[bytes, SignedOrder]] = {}
        for order, signature in pairs:
            h = domain.order_hash(order)
            if h in hashes.get(tx_hash, ()):
                signed_by.setdefault(h, {})[signature] = SignedOrder(order, signature, h)
        for h, signed in signed_by.items():
            for s in _the_contract_could_accept(signed):
                copies.setdefault((h, s.signature), OrderCopy(s, f"calldata of {tx_hash}"))
    return list(copies.values()), decoded, undecoded


def _the_contract_could_accept(signed: dict[bytes, SignedOrder]) -> list[SignedOrder]:
    """Of one transaction's copies of one order (by signature), those the contract may have
    settled it by: when one of several is the maker's ECDSA signature, that one. A batch
    may carry an order twice, once with a junk signature whose match the contract skipped
    (anyone may send one, with orders from a public book): that copy is no evidence, and
    checked, it blamed the maker for a fill the contract settled on its good signature.
    (When none recovers the maker, all stay: a contract maker's, or a real finding.)"""
    if len(signed) == 1:
        return list(signed.values())
    good = []
    for s in signed.values():
        try:
            if recover_signer(s.hash, s.signature) == s.order.maker:
                good.append(s)
        except SignatureError:
            pass
    return good or list(signed.values())
