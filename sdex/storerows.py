"""The store's rows believed only as this node writes them: an order's row
(``order_of_row``: its order's hash is the row's key, its taker the order's, its arrival
number, time and filled amount in range) and a mirror mark's (``mark_of``,
``hash_of_mark``). Anything else is a ``ValueError``: the file is another hand's (a disk
error, an edit, an older version's bug; attack31, review25), and its readers skip, count or
refuse the row (``sdex.storeread``, ``sdex.storechain``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sdex import jsonio
from sdex.order import Domain, SignedOrder
from sdex.storeschema import cancel_at


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order's row: the signed order and what the node recorded of it."""

    signed: SignedOrder
    seq: int
    status: str
    filled: int
    reason: str
    source: str
    created_at: float
    tif: str = "gtc"
    """Time in force: only ``gtc`` orders ever rest (and are gossiped)."""
    cancel_signature: bytes | None = None
    cancel_at: tuple[int, int | None] | None = None  # (``Record.cancel_at``)


def order_of_row(row: tuple[Any, ...], domain: Domain) -> StoredOrder:
    """An order's row (``ORDER_SELECT``'s columns) as a ``StoredOrder``, every value as this
    node writes it; ``ValueError`` (or the parse's error) for anything else."""
    hash_hex, seq, order_json, status, filled, reason, source, created, tif, sig = row[:10]
    taker = row[10]  # (and the cancel's position after it: ``cancel_at``)
    signed = SignedOrder.from_json(jsonio.stored(order_json, jsonio.ORDER_DEPTH), domain)
    # every value as this node writes it (attack31: a created_at of inf was answered as
    # ``"createdAt": inf``, the book's every page no JSON; a seq past SQLite's integers
    # made every later order's row fail to be written)
    if hash_hex != signed.hash_hex:
        raise ValueError(f"the row's hash is not its order's ({signed.hash_hex})")
    if taker != signed.order.taker.lower():  # (store37: orders_taker_seq lists by it)
        raise ValueError(f"taker {str(taker)[:80]!r} is not its order's")
    if type(seq) is not int or not 0 < seq < SEQ_LIMIT:
        raise ValueError(f"seq {str(seq)[:80]} is not an arrival number")
    at = float(created)
    if not math.isfinite(at) or at < 0:
        raise ValueError(f"created_at {at} is not a time")
    if not isinstance(filled, str) or not UINT_TEXT.fullmatch(filled):
        raise ValueError(f"filled {str(filled)[:80]!r} is not an amount")
    if int(filled) > signed.order.maker_amount:
        raise ValueError(f"filled {filled[:80]} is more than the order's makerAmount")
    return StoredOrder(
        signed=signed,
        seq=seq,
        status=str(status),
        filled=int(filled),
        reason=str(reason),
        source=str(source),
        created_at=at,
        tif=str(tif),
        cancel_signature=bytes.fromhex(str(sig)[2:]) if sig else None,
        cancel_at=cancel_at(row[11:]),
    )


def mark_of(filled: object, cancelled: object) -> tuple[int, bool]:
    """A ``mirror_orders`` row's (filled, cancelled), as this node writes them: the filled
    amount a uint256 in decimal digits, the flag 0 or 1. ``ValueError`` for anything else
    (the file is another hand's: a disk error, an edit, an older version's bug)."""
    if not isinstance(filled, str) or not UINT_TEXT.fullmatch(filled) or int(filled) >= 2**256:
        raise ValueError(f"filled {str(filled)[:80]!r} is not a uint256")
    if type(cancelled) is not int or cancelled not in (0, 1):
        raise ValueError(f"cancelled {str(cancelled)[:80]!r} is not 0 or 1")
    return int(filled), cancelled == 1


def hash_of_mark(text: object) -> bytes:
    """A ``mirror_orders`` row's hash as this node writes it (``0x`` and 64 lower-case hex
    digits), as bytes; ``ValueError`` for anything else. Its row is looked up by the hash so
    written: one in upper case, or of another length, named the order in the filter and was
    then not found, so the order was judged never filled (review25)."""
    if not isinstance(text, str) or not MARK_HASH.fullmatch(text):
        raise ValueError(f"a mark's hash {str(text)[:80]!r} is not 0x and 64 lower-case hex digits")
    return bytes.fromhex(text[2:])


MARK_HASH = re.compile(r"0x[0-9a-f]{64}")

SEQ_LIMIT = 2**61
"""Above every arrival number the node gives an order (``sdex.book.levels.SEQ_LIMIT``, the
book's bound, is the same): a stored row's seq at or past it is not one this node wrote."""

UINT_TEXT = re.compile(r"[0-9]{1,78}")
"""A uint256 in decimal (2**256 - 1 has 78 digits; ``mark_of`` bounds the value)."""
