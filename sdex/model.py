"""Shapes the node, its API and its clients share: an order's status and the transitions
between statuses, why an order left the book, book and wallet sides, what matching and
settlement did with an order, a fill, and the SRA error body. Each is defined once, here; the
packages that use them re-export them under their old names (``sdex.book.Side``,
``sdex.wallet.Side``, ``sdex.matching.Outcome``, ``sdex.settlement.Outcome``).

The strings are the wire's (PRODUCT.md section 3: ``metaData.status``, the websocket's order
events, the error body): ``OrderStatus`` is a ``StrEnum``, so each member *is* its string.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sdex.order import parse_address, parse_hex_bytes, parse_uint


class OrderStatus(enum.StrEnum):
    """An order's status as the API shows it (``NEW`` only while a record is being made)."""

    NEW = "new"
    """A record not yet accepted or reloaded: never stored, never shown."""
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    UNFUNDED = "unfunded"
    """Open, but its maker's funds cover less than one unit at its price."""
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REMOVED = "removed"
    """Closed by this node's policy (self-trade, IOC/FOK remainder, failed settlements...)."""

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES: tuple[OrderStatus, ...] = (
    OrderStatus.OPEN,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.UNFUNDED,
)
"""The statuses of an order the node still offers (or holds while its funds are short)."""

API_STATUSES: tuple[OrderStatus, ...] = tuple(s for s in OrderStatus if s is not OrderStatus.NEW)
"""Every status the API shows, in the order PRODUCT.md lists them."""

MAX_SIGNATURE_BYTES = 4 * 1024
"""The longest order signature the intake takes (wallets' and peers' orders alike): an ECDSA
one is 65 bytes; an EIP-1271 contract wallet's is whatever the wallet checks (a Safe's, 65
bytes an owner: 63 owners fit; a passkey's or an ERC-6492 wrapper's, a few hundred to ~2 kB).
Longer is refused before any work (``SIGNATURE_TOO_LONG``): a peer that sends one pays."""

MAX_ORDER_JSON = 2 * MAX_SIGNATURE_BYTES + 2 * 1024
"""An upper bound of the JSON text of an order the node holds (its canonical form: every other
field is an address or a decimal of at most 78 digits, < 1,000 bytes with the keys; the
signature in hex). Gossip's answers rest on it being far below what one answer carries."""

CHAIN_CLOSED = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})
"""Closes the chain decided: a reorg or reset can undo them (``reopened``)."""

_ANY_SHOWN = frozenset(API_STATUSES)

TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    # accepted (stored as open), or reloaded from the store with the status it was saved in
    OrderStatus.NEW: _ANY_SHOWN,
    # while open: fills, funds and releases move it among the open statuses; any close ends it
    OrderStatus.OPEN: _ANY_SHOWN - {OrderStatus.OPEN},
    OrderStatus.PARTIALLY_FILLED: _ANY_SHOWN - {OrderStatus.PARTIALLY_FILLED},
    OrderStatus.UNFUNDED: _ANY_SHOWN - {OrderStatus.UNFUNDED},
    # closed by the chain: a reorg or reset may reopen it, or show the chain's other verdict;
    # an IOC or FOK order it would reopen is removed instead (it never rests)
    OrderStatus.FILLED: CHAIN_CLOSED - {OrderStatus.FILLED}
    | {OrderStatus.OPEN, OrderStatus.REMOVED},
    OrderStatus.CANCELLED: CHAIN_CLOSED - {OrderStatus.CANCELLED}
    | {OrderStatus.OPEN, OrderStatus.REMOVED},
    OrderStatus.EXPIRED: CHAIN_CLOSED - {OrderStatus.EXPIRED}
    | {OrderStatus.OPEN, OrderStatus.REMOVED},
    # closed by this node's policy while fills of it were in flight: the chain's close wins
    OrderStatus.REMOVED: CHAIN_CLOSED,
}
"""Every status change the node may make, ``from -> {to}``. A change not listed is a bug:
``check_transition`` raises rather than let the store and the websocket show it."""


class TransitionError(RuntimeError):
    """A status change the transition table does not allow."""


def check_transition(old: OrderStatus | str, new: OrderStatus | str) -> OrderStatus:
    """``new`` as an ``OrderStatus`` if ``old -> new`` is allowed (or no change), else raise."""
    before, after = OrderStatus(old), OrderStatus(new)
    if before is not after and after not in TRANSITIONS[before]:
        raise TransitionError(f"order status {before.value} -> {after.value} is not allowed")
    return after


# ---- sides, removals, outcomes ---------------------------------------------------------------


class Side(enum.Enum):
    """An ask sells base for quote; a bid sells quote for base."""

    BID = "bid"
    ASK = "ask"

    @property
    def opposite(self) -> Side:
        return Side.ASK if self is Side.BID else Side.BID


class WalletSide(enum.Enum):
    """What a wallet does in a market: buy or sell the base token (``sdex order buy``)."""

    BUY = "buy"
    SELL = "sell"


class RemovalReason(enum.Enum):
    """Why an order left the book (or stopped being offered while fills are in flight)."""

    FILLED = "filled"
    """Confirmed fills reached the maker amount."""
    CANCELLED = "cancelled"
    """Cancelled on chain or by a signed soft cancel."""
    EXPIRED = "expired"
    """``now >= expiry``: the contract would reject it."""
    SELF_TRADE = "self_trade"
    """An incoming order of the same maker crossed it (expire-maker policy)."""
    UNMATCHED = "unmatched"
    """The unmatched remainder of an IOC or FOK order, dropped by its time in force."""
    DUST = "dust"
    """What is left cannot trade: less than one whole unit at the order's own price (the
    least amount that trades there without rounding), or too little to trade with the
    best price across. Shown to users as ``filled``: nothing tradeable is left."""
    UNFUNDED = "unfunded"
    """The node gave up on it for lack of maker funds (the book itself never removes for this)."""
    INVALID = "invalid"
    """The chain says the order can never fill (bad signature, invalid amounts)."""
    REMOVED = "removed"
    """Any other reason the node has."""


class MatchOutcome(enum.Enum):
    """What matching did with an incoming order (the API's ``outcome``)."""

    RESTED = "rested"
    """GTC: something is left and rests in the book (perhaps unfunded)."""
    FILLED = "filled"
    """Nothing is left to fill (FOK: filled in full)."""
    DROPPED = "dropped"
    """IOC: the unmatched remainder was dropped."""
    KILLED = "killed"
    """FOK: the full amount could not be matched; nothing was."""
    EXPIRED = "expired"
    """The order was expired at ``now``: it never matches."""


class SettleOutcome(enum.Enum):
    """What the chain did with one match."""

    SETTLED = "settled"
    FAILED = "failed"


# ---- a fill --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FillEvent:
    """One fill: an ``OrderFilled`` log as the chain has it, and a record of ``GET /v1/fills``
    as a node states it (``fill_json`` writes it, ``fill_from_json`` reads it)."""

    order_hash: bytes
    maker: str
    taker: str
    maker_filled: int
    taker_filled: int
    fee_recipient: str
    fee: int
    block_number: int
    tx_hash: str
    log_index: int


def fill_json(fill: FillEvent, ours: bool) -> dict[str, object]:
    """A record of ``GET /v1/fills`` (and the websocket's fill events)."""
    return {
        "transactionHash": fill.tx_hash,
        "logIndex": fill.log_index,
        "blockNumber": fill.block_number,
        "orderHash": "0x" + fill.order_hash.hex(),
        "maker": fill.maker,
        "taker": fill.taker,
        "makerAmountFilled": str(fill.maker_filled),
        "takerAmountFilled": str(fill.taker_filled),
        "feeRecipient": fill.fee_recipient,
        "feePaid": str(fill.fee),
        "settledByThisNode": ours,
    }


def fill_from_json(obj: object) -> FillEvent:
    """A record of ``GET /v1/fills``, every field checked (hex, addresses, uints); a
    ``ValueError`` (``OrderParseError``) naming the field, or ``KeyError``/``TypeError``."""
    if not isinstance(obj, Mapping):
        raise TypeError("a fill record is a JSON object")
    order_hash = parse_hex_bytes(obj["orderHash"], "orderHash")
    if len(order_hash) != 32:
        raise ValueError("orderHash must be 32 bytes")
    tx = parse_hex_bytes(obj["transactionHash"], "transactionHash")
    return FillEvent(
        tx_hash="0x" + tx.hex(),
        log_index=_json_count(obj["logIndex"], "logIndex"),
        block_number=_json_count(obj["blockNumber"], "blockNumber"),
        order_hash=order_hash,
        maker=parse_address(obj["maker"], "maker"),
        taker=parse_address(obj["taker"], "taker"),
        maker_filled=parse_uint(obj["makerAmountFilled"], "makerAmountFilled"),
        taker_filled=parse_uint(obj["takerAmountFilled"], "takerAmountFilled"),
        fee_recipient=parse_address(obj["feeRecipient"], "feeRecipient"),
        fee=parse_uint(obj["feePaid"], "feePaid"),
    )


def _json_count(raw: object, name: str) -> int:
    """A block number or log index: a JSON number in ``fill_json`` (not an amount: always
    well below 2**53), as ``parse_uint`` judges its decimal form."""
    return parse_uint(str(raw) if type(raw) is int else raw, name)


# ---- the SRA error body ----------------------------------------------------------------------

VALIDATION_FAILED = 100
MALFORMED_JSON = 101
THROTTLED = 103


def error_body(
    code: int, reason: str, errors: Iterable[Mapping[str, object]] = ()
) -> dict[str, object]:
    """``{"code", "reason", "validationErrors"}``: the one builder of the API's 4xx body.

    ``validationErrors`` is always there, empty when no field is at fault (PRODUCT.md pins
    the shape; a client reads the list without first asking whether it exists)."""
    return {"code": code, "reason": reason, "validationErrors": [dict(e) for e in errors]}


def field_error_body(field: str, field_code: int, reason: str) -> dict[str, object]:
    """Validation failed on one field (SRA field codes 1000-1006)."""
    return error_body(
        VALIDATION_FAILED,
        "Validation Failed",
        [{"field": field, "code": field_code, "reason": reason}],
    )


def closed_status(reason: RemovalReason | str, filled_all: bool) -> OrderStatus:
    """The status of an order that left the book for ``reason`` (a ``RemovalReason``):
    ``filled`` when nothing tradeable is left (all filled, or dust), ``cancelled`` or
    ``expired`` as the chain says, else ``removed`` (self-trade, IOC/FOK remainder, invalid...)."""
    why = RemovalReason(reason)
    if filled_all or why in (RemovalReason.FILLED, RemovalReason.DUST):
        return OrderStatus.FILLED
    if why in (RemovalReason.CANCELLED, RemovalReason.EXPIRED):
        return OrderStatus(why.value)
    return OrderStatus.REMOVED
