"""A socket's book request on ``/v1/ws`` (``sdex.node.bookfeed``), read as hostile: one JSON
object of at most 4 kB and ``MAX_MESSAGE_DEPTH`` levels, no field but ``op``, ``channel``,
``baseToken`` and ``quoteToken``, a pair this node lists. A message that is not one is a
``BadRequest``, answered with an error event (the socket stays open)."""

from __future__ import annotations

from typing import Any

from sdex.book import OrderBook, UnknownPair
from sdex.errors import FieldCode, JsonLimitError, OrderParseError
from sdex.jsonio import loads
from sdex.model import VALIDATION_FAILED, error_body
from sdex.node.events import Event
from sdex.order import parse_address

MAX_MESSAGE_DEPTH = 4
_FIELDS = frozenset({"op", "channel", "baseToken", "quoteToken"})

Key = tuple[str, str]
"""A listed pair: (base token, quote token), as the book spells them."""


class BadRequest(Exception):
    """A socket's message the node cannot act on: answered with an error event."""

    def __init__(
        self, reason: str, field: str | None = None, code: int = FieldCode.INCORRECT_FORMAT
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.code = code

    def event(self) -> Event:
        field = {"field": self.field, "code": self.code, "reason": self.reason}
        errors = [] if self.field is None else [field]
        return {"type": "error", **error_body(VALIDATION_FAILED, self.reason, errors)}


def parse_request(text: str, book: OrderBook) -> tuple[str, Key]:
    """``("subscribe" | "unsubscribe", pair)`` of one text message (``BadRequest`` if it is
    not one)."""
    try:
        obj: Any = loads(text, max_bytes=4096, max_depth=MAX_MESSAGE_DEPTH)
    except JsonLimitError as e:
        raise BadRequest(f"malformed JSON: {e}") from None
    if not isinstance(obj, dict):
        raise BadRequest("a message is a JSON object")
    if extra := sorted(str(k)[:40] for k in set(obj) - _FIELDS):
        raise BadRequest(f"unknown field {extra[0]!r}", extra[0][:40])
    op = obj.get("op")
    if op not in ("subscribe", "unsubscribe"):
        raise BadRequest("op must be subscribe or unsubscribe", "op", FieldCode.UNSUPPORTED_OPTION)
    if obj.get("channel") != "book":
        raise BadRequest("channel must be book", "channel", FieldCode.UNSUPPORTED_OPTION)
    base, quote = (_address(obj, f) for f in ("baseToken", "quoteToken"))
    try:
        pair = book.pair(base, quote)
    except UnknownPair:
        raise BadRequest(
            "this node does not list that pair", "quoteToken", FieldCode.ADDRESS_NOT_SUPPORTED
        ) from None
    return op, (pair.base, pair.quote)


def _address(obj: dict[str, Any], field: str) -> str:
    raw = obj.get(field)
    if raw is None:
        raise BadRequest(f"{field} is required", field, FieldCode.REQUIRED_FIELD)
    try:
        return parse_address(raw, field)
    except OrderParseError as e:
        raise BadRequest(e.errors[0].reason, field, FieldCode.INVALID_ADDRESS) from None
