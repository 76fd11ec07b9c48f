"""The node's answers as typed values, and the three errors a wallet sees (used by
``sdex.client``, which re-exports them):

    SdexError
    ├── NodeApiError                 the node answered 4xx/5xx (SRA error body: code, reason,
    │                                validationErrors, rejection)
    ├── NodeUnreachableError         no answer: refused, DNS, timeout (also ConnectionError)
    └── NodeProtocolError            an answer that breaks the API contract (also ValueError)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sdex.deployment import TokenInfo, symbols_fault
from sdex.errors import FieldError, SdexError
from sdex.model import FillEvent, fill_from_json
from sdex.order import (
    ZERO_ADDRESS,
    Domain,
    Order,
    parse_address,
    parse_uint,
)
from sdex.storepage import MAX_CURSOR_CHARS
from sdex.typeddata import EIP712_TYPES

CURSOR = re.compile(rf"[0-9A-Za-z._~-]{{1,{MAX_CURSOR_CHARS}}}")
"""A page's ``next`` as a client takes it: opaque, but short and made of characters a URL
query carries as they are (the node's are digits and dots, ``sdex.storepage``)."""


class NodeApiError(SdexError):
    """The node refused a request; the fields mirror the 0x SRA error body."""

    def __init__(
        self,
        status: int,
        reason: str,
        code: int | None = None,
        validation_errors: list[FieldError] | None = None,
        rejection: str | None = None,
        body: object = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        """Seconds the node asked to wait before asking again (its ``Retry-After``, 0..99)."""
        self.code = code
        self.reason = reason
        self.validation_errors = validation_errors or []
        self.rejection = rejection
        self.body = body
        detail = "; ".join(f"{e.field}: {e.reason}" for e in self.validation_errors)
        tag = f"HTTP {status}" + (f", code {code}" if code is not None else "")
        tag += f", {rejection}" if rejection else ""
        super().__init__(f"{reason} ({tag})" + (f": {detail}" if detail else ""))


class NodeUnreachableError(SdexError, ConnectionError):
    """The node did not answer: connection refused, unknown host or timeout."""


class NodeLateError(NodeUnreachableError):
    """The request was sent, and the node did not answer it in time (or broke off its
    answer): what it did with it is not known (a POSTed order may have been taken)."""


class NodeProtocolError(SdexError, ValueError):
    """The node answered, but not in the shape the API pins (bad JSON, missing fields)."""


class ListingTooLong(NodeProtocolError):
    """A listing walked by cursor still had a next page after the most pages a walk reads
    (the records of the pages read were yielded before it is raised)."""


@dataclass(frozen=True, slots=True)
class OrderConfig:
    """``GET /v1/order_config``: what a wallet needs to build and sign an order for a node."""

    chain_id: int
    exchange: str
    domain: Domain
    fee_recipient: str
    fee_bps: int
    tokens: dict[str, TokenInfo]
    pairs: tuple[tuple[str, str], ...] = ()
    """The markets the node lists, (base, quote) symbols as in ``tokens``: ``pairs`` of the
    config, or (a node that does not send it) every two tokens, the first listed as base."""

    @classmethod
    def from_json(cls, obj: object) -> OrderConfig:
        """Parse and cross-check. A wallet refuses to sign for a node whose ``domain``,
        ``types`` or ``primaryType`` differ from what ``sdex.order`` computes for its chainId
        and exchange: the typed data a wallet would show and sign must be the order we hash."""
        with shape("order_config"):
            o = json_object(obj, "order_config")
            chain_id = _int(o["chainId"], "chainId")
            exchange = parse_address(o["exchange"], "exchange")
            fee_recipient = parse_address(o.get("feeRecipient", ZERO_ADDRESS), "feeRecipient")
            fee_bps = _int(o.get("feeBps", 0), "feeBps")
            listed = json_object(o["tokens"], "tokens")
            if fault := symbols_fault(listed):
                raise NodeProtocolError(f"order_config lists {fault}")
            tokens = {
                str(sym): TokenInfo(
                    parse_address(json_object(t, sym)["address"], f"tokens.{sym}.address"),
                    _int(json_object(t, sym)["decimals"], f"tokens.{sym}.decimals"),
                    _int(json_object(t, sym).get("minAmount", 0), f"tokens.{sym}.minAmount"),
                )
                for sym, t in listed.items()
            }
            dom = json_object(o["domain"], "domain")
            theirs = {
                "name": dom.get("name"),
                "version": dom.get("version"),
                "chainId": _int(dom.get("chainId"), "domain.chainId"),
                "verifyingContract": parse_address(
                    dom.get("verifyingContract"), "domain.verifyingContract"
                ),
            }
            types = json_object(o["types"], "types")
            primary = o["primaryType"]
            pairs = _pairs(o.get("pairs"), list(tokens))
        if not 0 <= fee_bps <= 10_000:
            raise NodeProtocolError(f"order_config feeBps {fee_bps} is outside 0..10000")
        if fee_bps and fee_recipient == ZERO_ADDRESS:
            raise NodeProtocolError("order_config asks a fee but its feeRecipient is 0x0")
        if any(not 0 <= t.decimals <= 77 for t in tokens.values()):
            raise NodeProtocolError("order_config lists a token with impossible decimals")
        domain = Domain(chain_id, exchange)
        mine = domain.to_json()
        if set(dom) != set(mine) or theirs != mine:
            raise NodeProtocolError(_domain_differs(dom, mine))
        for name in ("EIP712Domain", "Order"):
            if types.get(name) != EIP712_TYPES[name]:
                raise NodeProtocolError(
                    f"refusing to sign: the node's EIP-712 {name} type differs from this wallet's"
                )
        if primary != "Order":
            raise NodeProtocolError(f"refusing to sign: order_config primaryType is {primary!r}")
        return cls(
            chain_id=chain_id,
            exchange=exchange,
            domain=domain,
            fee_recipient=fee_recipient,
            fee_bps=fee_bps,
            tokens=tokens,
            pairs=pairs,
        )

    def token(self, symbol: str) -> TokenInfo:
        """The token listed under ``symbol``, case-insensitive; ``KeyError`` lists the known."""
        for sym, info in self.tokens.items():
            if sym.upper() == symbol.upper():
                return info
        raise KeyError(symbol)


@dataclass(frozen=True, slots=True)
class MatchReport:
    """One match the node made for a posted order (settlement on chain follows; it is not a
    fill until its receipt). Amounts are what each side's maker gives, in its maker token."""

    resting_order_hash: str
    incoming_order_hash: str
    resting_maker_amount: int
    incoming_maker_amount: int
    price: str  # as the node sends it (informational: the amounts are exact)

    @classmethod
    def from_json(cls, obj: object) -> MatchReport:
        with shape("match"):
            m = json_object(obj, "match")
            return cls(
                resting_order_hash=str(m["restingOrderHash"]).lower(),
                incoming_order_hash=str(m["incomingOrderHash"]).lower(),
                resting_maker_amount=parse_uint(m["restingMakerAmount"], "restingMakerAmount"),
                incoming_maker_amount=parse_uint(m["incomingMakerAmount"], "incomingMakerAmount"),
                price=str(m.get("price", "")),
            )


@dataclass(frozen=True, slots=True)
class PostedOrder:
    """``POST /v1/orders`` accepted. ``created`` (201) is False when the node already knew the
    order (200, the body is then its record); ``outcome`` is what matching did with it
    (``rested``, ``filled``, ``dropped``, ``killed``, ``expired``) when the node says."""

    order_hash: str
    status: str
    meta_data: dict[str, Any]
    outcome: str | None
    matches: list[MatchReport]
    created: bool

    @classmethod
    def from_json(cls, http_status: int, obj: object) -> PostedOrder:
        with shape("POST /v1/orders answer"):
            o = json_object(obj, "answer")
            meta = dict(json_object(o.get("metaData", {}), "metaData"))
            raw_matches = o.get("matches", [])
            if not isinstance(raw_matches, list):
                raise NodeProtocolError("matches must be a list")
            outcome = o.get("outcome")
            return cls(
                order_hash=str(o.get("orderHash") or meta["orderHash"]).lower(),
                status=str(o.get("status") or meta["status"]),
                meta_data=meta,
                outcome=str(outcome) if outcome is not None else None,
                matches=[MatchReport.from_json(m) for m in raw_matches],
                created=http_status == 201,
            )


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One SRA record ``{"order", "metaData"}``, its order parsed, amounts as ints."""

    order: Order
    signature: bytes
    order_hash: str
    status: str
    remaining: int  # remainingFillableMakerAmount, in makerToken units
    meta_data: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, obj: object) -> OrderRecord:
        with shape("order record"):
            rec = json_object(obj, "record")
            raw_order = json_object(rec["order"], "order")
            meta = dict(json_object(rec["metaData"], "metaData"))
            sig = str(raw_order.get("signature", "0x"))
            return cls(
                order=Order.from_json(raw_order),
                signature=bytes.fromhex(sig[2:] if sig.startswith("0x") else sig),
                order_hash=str(meta["orderHash"]).lower(),
                status=str(meta.get("status", "")),
                remaining=parse_uint(
                    meta.get("remainingFillableMakerAmount", "0"), "remainingFillableMakerAmount"
                ),
                meta_data=meta,
            )


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Page:
    """An SRA page: ``total`` records in all, this page's ``records`` (pages are 1-indexed);
    a listing's (``GET /v1/orders``) also ``next``: the cursor of the page after it, None on
    the last (an orderbook side's page has none: always None)."""

    total: int
    page: int
    per_page: int
    records: list[OrderRecord]
    next: str | None = None

    @classmethod
    def from_json(cls, obj: object) -> Page:
        """An orderbook side's page (no ``next``)."""
        return cls(*_page_fields(obj, "page", OrderRecord.from_json))

    @classmethod
    def listing_json(cls, obj: object) -> Page:
        """A ``GET /v1/orders`` page: ``next`` required (``listing_next``)."""
        fields = _page_fields(obj, "orders page", OrderRecord.from_json)
        return cls(*fields, listing_next(obj, "orders page"))


@dataclass(frozen=True, slots=True)
class FillPage:
    """A page of ``GET /v1/fills``: ``total`` fills in all, this page's ``records``, and
    ``next``: the cursor of the page after it, None on the last."""

    total: int
    page: int
    per_page: int
    records: list[FillEvent]
    next: str | None

    @classmethod
    def from_json(cls, obj: object) -> FillPage:
        fields = _page_fields(obj, "fills page", _fill)
        return cls(*fields, listing_next(obj, "fills page"))


def listing_next(obj: object, what: str) -> str | None:
    """A listing page's ``next``: null, or a cursor (``CURSOR``); ``NodeProtocolError``
    for anything else, and for a page without it (a node older than cursor paging: this
    client walks a listing only by cursor, PRODUCT.md pins node and client together)."""
    p = json_object(obj, what)
    if "next" not in p:
        raise NodeProtocolError(
            f"{what} has no next (the cursor of the page after it): the node is older than "
            "this client, which walks GET /v1/orders and /v1/fills by cursor; upgrade the node"
        )
    raw = p["next"]
    if raw is None or (isinstance(raw, str) and CURSOR.fullmatch(raw)):
        return raw
    shown = repr(raw[:40]) if isinstance(raw, str) else type(raw).__name__
    raise NodeProtocolError(
        f"{what} next must be null or a cursor (1 to {MAX_CURSOR_CHARS} of A-Z a-z 0-9 . _ ~ -), "
        f"got {shown}"
    )


def _fill(obj: object) -> FillEvent:
    try:
        return fill_from_json(obj)
    except (KeyError, TypeError, ValueError) as e:
        raise NodeProtocolError(f"a fill record is malformed: {e!r}") from None


def _page_fields(
    obj: object, what: str, parse: Callable[[object], R]
) -> tuple[int, int, int, list[R]]:
    """``total``, ``page``, ``perPage`` and the parsed ``records`` of a page answer."""
    with shape(what):
        p = json_object(obj, what)
        records = p["records"]
        if not isinstance(records, list):
            raise NodeProtocolError(f"{what} records must be a list")
        parsed = [parse(r) for r in records]
        return (
            _int(p["total"], "total"),
            _int(p["page"], "page"),
            _int(p["perPage"], "perPage"),
            parsed,
        )


@dataclass(frozen=True, slots=True)
class Orderbook:
    """``GET /v1/orderbook``: bids sell the quote token, asks sell the base token."""

    bids: Page
    asks: Page
    chain_status: str = ""
    """The page's ``chainStatus`` (``unreachable``, ``behind``, ...) when the node's view of
    the chain is not current: its book is as last read; empty when current."""


class shape:
    """Turns a missing key or malformed field in a node answer into ``NodeProtocolError``."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _: object
    ) -> None:
        # Returns None (never swallows): it only re-raises bad shapes as NodeProtocolError.
        if exc is None or isinstance(exc, NodeProtocolError):
            return
        if isinstance(exc, KeyError):
            raise NodeProtocolError(f"{self.what} lacks {exc}") from exc
        if isinstance(exc, (ValueError, TypeError)):  # OrderParseError is a ValueError
            raise NodeProtocolError(f"{self.what} is malformed: {exc}") from exc


def _pairs(raw: object, symbols: list[str]) -> tuple[tuple[str, str], ...]:
    """``order_config.pairs`` (``["WETH/USDC", ...]``) as (base, quote) symbols of ``tokens``."""
    if raw is None:
        return tuple((b, q) for i, b in enumerate(symbols) for q in symbols[i + 1 :])
    if not isinstance(raw, list) or len(raw) > 10_000:
        raise NodeProtocolError("order_config pairs must be a list of BASE/QUOTE strings")
    out = []
    for item in raw:
        parts = item.split("/") if isinstance(item, str) else []
        if len(parts) != 2 or not all(p in symbols for p in parts) or parts[0] == parts[1]:
            raise NodeProtocolError(f"order_config lists a pair {_shown(item)} of unlisted tokens")
        out.append((parts[0], parts[1]))
    return tuple(out)


def _shown(raw: object) -> str:
    """A value from a node's answer as a message shows it: ASCII, at most 60 characters."""
    text = ascii(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _domain_differs(theirs: Mapping[str, Any], mine: Mapping[str, Any]) -> str:
    """Why a wallet refuses a node whose EIP-712 domain is not this wallet's (wallet74: the
    whole domain was printed as the node sent it, a name of megabytes and all), field by
    field, each value bounded (``_shown``)."""
    fields = [k for k in mine if theirs.get(k) != mine[k]]
    extra = sorted(k for k in theirs if k not in mine)
    said = [f"{k} {_shown(theirs.get(k))} (this wallet's: {_shown(mine[k])})" for k in fields]
    if extra:
        names = ", ".join(_shown(k) for k in extra[:4]) + (", ..." if len(extra) > 4 else "")
        said.append(f"fields this wallet does not sign: {names}")
    why = "; ".join(said)
    hint = (
        ": a node of another version of SDEX? an order signed here would not be the order it checks"
        if {"name", "version"} & set(fields)
        else ""
    )
    return f"refusing to sign: the node's EIP-712 domain differs from this wallet's: {why}{hint}"


def json_object(obj: object, name: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise NodeProtocolError(f"{name} must be a JSON object")
    return obj


def _int(raw: object, name: str) -> int:
    """An int sent as a JSON number or a decimal string (never a bool or a float)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return int(raw)
    raise NodeProtocolError(f"{name} must be an integer, got {_shown(raw)}")
