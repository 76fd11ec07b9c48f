"""Settlement calldata read back: the orders and matches a transaction to the Exchange
carries (``fillOrder``, ``matchOrders``, ``matchOrdersPacked``, ``batchMatchOrders``; the
ABI read from the compiled artifact). A restart adopts a pooled settlement of its own with
``decode_matches`` (``sdex.settlement.adopt``); the audit reads each settlement's signed
orders with ``decode_settlement`` (``sdex.audit.calldata``).

Pure: bytes in, orders out. Calldata is hostile: every length is checked against the bytes
there are. eth-abi loads at the first decode (``sdex.chain.abi``), not with this module: a
node's imports load no ABI codec (``tests/test_start_imports.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sdex.chain.abi import decode, decoding_error
from sdex.chain.exchange import load_abi
from sdex.fillmath import UINT256_MAX
from sdex.order import Order

SETTLEMENT_FUNCTIONS = ("fillOrder", "matchOrders", "matchOrdersPacked", "batchMatchOrders")
"""The Exchange's external entry points that settle orders (``settleBatch`` and
``settleMatch`` are only callable by the Exchange itself, inside ``batchMatchOrders``)."""

MAX_CALLDATA = 8 * 1024 * 1024
"""Largest transaction input read (bytes): beyond any block's gas limit for calldata."""


class CalldataError(ValueError):
    """Calldata that is not a settlement these decoders read."""


def decode_settlement(data: bytes) -> tuple[str, list[tuple[Order, bytes]]]:
    """The entry point a settlement's calldata calls and the (order, signature) pairs it
    carries. ``CalldataError`` for another function or bytes that are not its arguments."""
    abi = load_abi("Exchange")
    fn = next((f for n in SETTLEMENT_FUNCTIONS if (f := abi.fn(n)).selector == data[:4]), None)
    if fn is None:
        raise CalldataError(f"its calldata calls no settlement (selector 0x{data[:4].hex()})")
    body = data[4:]
    try:
        if fn.name == "matchOrdersPacked":
            return fn.name, decode_packed(body)
        if fn.name == "batchMatchOrders":
            return fn.name, decode_batch(body)
        # (not strict: the contract reads a signature's bytes and never its padding, which
        # may be junk or absent; dirty address bits are still refused, as the contract's)
        args = decode(list(fn.input_types), body, strict=False)
    except (decoding_error(), CalldataError, OverflowError, ValueError) as e:
        raise CalldataError(f"its calldata does not decode as {fn.name}: {e}"[:300]) from None
    if fn.name == "fillOrder":
        return fn.name, [(_order(args[0]), bytes(args[1]))]
    return fn.name, [(_order(args[0]), bytes(args[1])), (_order(args[2]), bytes(args[3]))]


def decode_matches(data: bytes) -> list[tuple[Order, Order, int]]:
    """The (left order, right order, ``maxLeftFill``) of each match a ``matchOrders``,
    ``matchOrdersPacked`` or ``batchMatchOrders`` calldata carries, in its order (what
    ``Exchange.encode_settlement`` writes: a restart adopts a pooled settlement of its own
    with them, ``sdex.settlement.adopt``). ``CalldataError`` for anything else, and for a
    batch pair naming an order the batch does not carry (read, it reverts whole)."""
    if len(data) > MAX_CALLDATA:
        raise CalldataError(f"calldata of {len(data)} bytes, beyond {MAX_CALLDATA}")
    name, carried = decode_settlement(data)
    body = data[4:]
    if name == "matchOrdersPacked":
        return [(carried[0][0], carried[1][0], _packed_cap(body))]
    if name == "matchOrders":
        try:
            cap = decode(list(load_abi("Exchange").fn(name).input_types), body, strict=False)[4]
        except (decoding_error(), OverflowError, ValueError) as e:  # (decoded above: never)
            raise CalldataError(f"its calldata does not decode as {name}: {e}"[:300]) from None
        return [(carried[0][0], carried[1][0], int(cap))]
    if name != "batchMatchOrders":
        raise CalldataError(f"{name} is no match")
    n = _word(body, _word(body, 0))  # (decode_batch checked every order and pair in bounds)
    if len(carried) != n:
        raise CalldataError("an order of the batch does not read")
    pairs_at = _word(body, 64)
    out = []
    for i in range(_word(body, pairs_at)):
        left, right, cap = (_word(body, pairs_at + 32 + 96 * i + 32 * k) for k in range(3))
        if left >= n or right >= n:
            raise CalldataError(f"pair {i} names order {max(left, right)} of {n}")
        out.append((carried[left][0], carried[right][0], cap))
    return out


def _packed_cap(body: bytes) -> int:
    """``matchOrdersPacked``'s ``maxLeftFill`` (UINT256_MAX when its flag is off)."""
    c = _Cursor(body)
    return c.uint() if c.take(1)[0] & 16 else UINT256_MAX


def _order(t: Sequence[Any]) -> Order:
    maker, taker, maker_token, taker_token, ma, ta, fee_recipient, fee, expiry, salt = t
    return Order(
        maker.lower(), taker.lower(), maker_token.lower(), taker_token.lower(),
        ma, ta, fee_recipient.lower(), fee, expiry, salt,
    )  # fmt: skip


_ADDRESS_FIELDS = (0, 1, 2, 3, 6)


def decode_batch(body: bytes) -> list[tuple[Order, bytes]]:
    """``batchMatchOrders``' (order, signature) pairs: ``Order[]`` (static 10-word tuples)
    and ``bytes[]``, read directly (what ``Exchange.encode_batch`` writes; eth_abi takes
    ~0.3 ms an order). Refused, as the contract's ABI decoder refuses them (the transaction
    reverts whole): arrays running beyond the calldata, or as many signatures as orders.
    An entry the contract reads only when a pair names it (its order, its signature) is
    left out when it does not read: an address or the uint64 expiry with dirty high bits, a
    signature the contract's reader refuses (``_calldata_tail``: as it reads, "negative"
    offsets too), or one past ``len(body)`` bytes of signatures in all
    (offsets pointing many at one: far more decoded than was sent). The contract settles
    the other matches of such a batch, and their orders are here. ``pairs`` is only
    bounded: it names no order that is not here."""
    orders_at, signatures_at, pairs_at = _word(body, 0), _word(body, 32), _word(body, 64)
    if pairs_at + 32 + 96 * _word(body, pairs_at) > len(body):
        raise CalldataError("its pairs run beyond the calldata")
    n = _word(body, orders_at)
    if n > len(body) // 320:
        raise CalldataError(f"{n} orders in {len(body)} bytes")
    m = _word(body, signatures_at)
    if m != n:  # the contract reverts: ArrayLengthMismatch
        raise CalldataError(f"{n} orders but {m} signatures")
    _word(body, orders_at + 320 * n)  # (the last order's last word: all within the calldata)
    if n:
        _word(body, signatures_at + 32 * n)  # (the last signature's offset)
    full = load_abi("Exchange").fn("batchMatchOrders").selector + body  # (offsets count from 4)
    pairs, total = [], 0
    for i in range(n):
        at = orders_at + 32 + 320 * i
        words = [_word(body, at + 32 * k) for k in range(10)]
        if any(words[k] >> 160 for k in _ADDRESS_FIELDS) or words[8] >> 64:
            continue  # (reading it reverts: no match of it settled)
        signature = _calldata_tail(full, 4 + signatures_at + 32, 4 + signatures_at + 32 + 32 * i)
        if signature is None or total + len(signature) > len(body):
            continue  # (the contract's read reverts; or past the bound on all signatures)
        total += len(signature)
        a = ["0x" + words[k].to_bytes(20, "big").hex() for k in _ADDRESS_FIELDS]
        order = Order(
            a[0], a[1], a[2], a[3], words[4], words[5], a[4], words[7], words[8], words[9]
        )
        pairs.append((order, signature))
    return pairs


WORD = 2**256


def _signed(x: int) -> int:
    x %= WORD
    return x - WORD if x >> 255 else x


def _calldata_tail(full: bytes, base: int, head: int) -> bytes | None:
    """The ``bytes`` element whose offset (from ``base``) is the word at ``head`` of the
    calldata ``full``, read as Solidity's calldata reader (``access_calldata_tail``) reads
    it, 256-bit words wrapping and compared signed (an offset may be "negative": the bytes
    then lie before ``base``); None where that reader reverts. Its length is at most the
    calldata's: beyond it, the reader reverts or reads a length of 0."""
    size = len(full)
    rel = int.from_bytes(full[head : head + 32], "big")
    if not _signed(rel) < _signed(size - base - 31):
        return None
    at = (base + rel) % WORD
    length = int.from_bytes(full[at : at + 32].ljust(32, b"\0"), "big") if at < size else 0
    if length > 2**64 - 1:
        return None
    at = (at + 32) % WORD
    if _signed(at) > _signed(size - length):
        return None
    return full[at : at + length].ljust(length, b"\0") if at < size else bytes(length)


def _word(body: bytes, at: int) -> int:
    if at < 0 or at + 32 > len(body):
        raise CalldataError(f"a word at {at} beyond the calldata's {len(body)} bytes")
    return int.from_bytes(body[at : at + 32], "big")


class _Cursor:
    """Reads ``matchOrdersPacked``'s fields in turn, never past the data."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise CalldataError(f"the packed match ends at byte {len(self.data)}, short")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def address(self) -> str:
        return "0x" + self.take(20).hex()

    def uint(self) -> int:
        n = self.take(1)[0]
        if n > 32:
            raise CalldataError(f"a packed uint of {n} bytes")
        return int.from_bytes(self.take(n), "big")


def decode_packed(body: bytes) -> list[tuple[Order, bytes]]:
    """``matchOrdersPacked``'s two (order, signature) pairs, read as
    contracts/libraries/LibPacked.sol reads them (that file documents the layout)."""
    zero = "0x" + "00" * 20
    c = _Cursor(body)
    flags = c.take(1)[0]
    if flags > 31:
        raise CalldataError(f"packed flags {flags:#x} set unknown bits")
    if flags & 16:
        c.uint()  # maxLeftFill
    orders = []
    tokens: tuple[str, str] | None = None
    for has_taker, has_fee in ((flags & 1, flags & 2), (flags & 4, flags & 8)):
        maker = c.address()
        taker = c.address() if has_taker else zero
        if tokens is None:
            maker_token, taker_token = c.address(), c.address()
            tokens = (taker_token, maker_token)  # the right order trades them the other way
        else:
            maker_token, taker_token = tokens
        maker_amount, taker_amount = c.uint(), c.uint()
        fee_recipient, fee = (c.address(), c.uint()) if has_fee else (zero, 0)
        expiry = int.from_bytes(c.take(8), "big")
        salt = c.uint()
        orders.append(
            Order(maker, taker, maker_token, taker_token, maker_amount, taker_amount,
                  fee_recipient, fee, expiry, salt)
        )  # fmt: skip
    signatures = [c.take(int.from_bytes(c.take(2), "big")) for _ in orders]
    if c.at != len(body):
        raise CalldataError(f"{len(body) - c.at} bytes after the packed match")
    return list(zip(orders, signatures, strict=True))
