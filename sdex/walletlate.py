"""An order whose post did not end with a plain answer (``sdex order``, the console's
``send_order``): what is known of it, said as such (split from ``sdex.walletui``).

The POST sent and not answered in time (``NodeLateError``: the node's chain read may take 8 s,
then its commit wait up to 10, review77b), or answered 503 naming it (the node holds it, its
row not committed in time, left77): the order is read back by its hash. The node answers that
read from memory: an order it holds, not one it has stored (a restart loses what is not). So
an order held is posted again, the same signed order (its hash: no second order can come of
it), and the node answers a copy of an order it holds once its row is committed (storing it
then, if an earlier insert failed): 200 says stored, 503 naming it again says not yet, and
anything else that it is not known (wallet78: each said "it was taken" alike). A POST never
sent (no connection: ``NodeUnreachableError``, not this module's) took nothing."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from sdex.client import (
    NodeApiError,
    NodeClient,
    NodeLateError,
    NodeProtocolError,
    OrderRecord,
    PostedOrder,
)
from sdex.errors import SdexError
from sdex.order import SignedOrder
from sdex.walletout import short_error

READ_BACK = 5.0
"""Seconds a wallet gives its read of an order whose POST went unanswered (``read_back``)."""


@dataclass(frozen=True, slots=True)
class Unanswered:
    """Why a POST's outcome is not known: ``said`` in words; ``held`` when the node said it
    holds the order (its 503), else (``NodeLateError``) it was sent, nothing more known."""

    said: str
    held: bool


def late(e: NodeLateError) -> Unanswered:
    return Unanswered(str(e), held=False)


def held_unstored(e: NodeApiError, signed: SignedOrder) -> Unanswered | None:
    """The node's refusal as one saying it holds this order, not stored yet: a 503 naming its
    hash (its commit wait ran out, or its row was refused: the order is in its book); None
    for any other refusal."""
    body = e.body
    held = body.get("orderHash") if isinstance(body, dict) else None
    if e.status != 503 or not isinstance(held, str) or held.lower() != signed.hash_hex:
        return None
    return Unanswered(f"the node answered HTTP 503: {e.reason}", held=True)


def read_back(
    out: Console, client: NodeClient, signed: SignedOrder, tif: str, why: Unanswered
) -> PostedOrder:
    """The order ``why`` left unknown, read back and, held, posted again to learn whether it
    is stored (module doc); each outcome said on ``out`` (held) or raised (not held, not
    read: ``NodeLateError`` naming the hash to look up; the node said it holds it: its
    ``NodeApiError`` with why the read failed). The record or the repost's answer."""
    rec = _held(client, signed, why)
    stored, again = _posted_again(client, signed, tif)
    taken = "it holds the order: it was taken"
    if stored is not None:
        out.print(
            f"[yellow]note:[/] {escape(why.said)}; read back, {taken}, and stored (posted "
            "again, the same signed order: the node answered that it has it)"
        )
        return stored
    out.print(
        f"[yellow]note:[/] {escape(why.said)}; read back, {taken}, "
        + (
            "not yet stored (posted again, the same signed order: the node answered it has "
            "not stored it yet; a restart of the node before it stores it would lose it)"
            if again is None
            else f"but whether it is stored is not known (posted again, the same signed "
            f"order: {escape(again)})"
        )
    )
    return PostedOrder(rec.order_hash, rec.status, rec.meta_data, None, [], created=True)


def _held(client: NodeClient, signed: SignedOrder, why: Unanswered) -> OrderRecord:
    hash_hex = signed.hash_hex
    again = f"`sdex repost {hash_hex}` posts this one again, a new `sdex order` signs another"
    look = f"GET /v1/orders/{hash_hex} at the node"
    try:
        rec = client.get_order(hash_hex, timeout=READ_BACK)
    except (SdexError, OSError) as e:
        if why.held:  # (the node said it holds it)
            raise NodeLateError(
                f"{why.said}; reading order {hash_hex} back: {short_error(e)} ({look} says "
                f"what became of it; {again})"
            ) from None
        if isinstance(e, NodeApiError) and e.status == 404:
            raise NodeLateError(
                f"{why.said}, and does not hold order {hash_hex} (yet: it may still be judging "
                f"it; if it takes it, {look} says so; {again})"
            ) from None
        raise NodeLateError(
            f"{why.said}: order {hash_hex} was sent and may have been taken (its record, "
            f"{look}, says; {again}); reading it back: "
            f"{short_error(e)}"
        ) from None
    if rec.order != signed.order or rec.order_hash.lower() != hash_hex:
        raise NodeProtocolError(
            f"{why.said}; asked for order {hash_hex}, it answered with another order's record"
        )
    return rec


def _posted_again(
    client: NodeClient, signed: SignedOrder, tif: str
) -> tuple[PostedOrder | None, str | None]:
    """The same signed order posted again: (its answer, None) when the node says it has it
    stored; (None, None) when it says again that it holds it, not stored; (None, why) when
    neither is known."""
    try:
        posted = client.post_order(signed, tif)
    except NodeApiError as e:
        if held_unstored(e, signed) is not None:
            return None, None
        return None, short_error(e)
    except (SdexError, OSError) as e:
        return None, short_error(e)
    if posted.order_hash != signed.hash_hex:
        return None, f"it answered with another order's hash, {posted.order_hash}"
    return posted, None
