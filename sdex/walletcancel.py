"""Cancels from the wallet commands (``sdex cancel``, the console's ``cancel``): a signed soft
cancel at the node and ``Exchange.cancelOrder`` on chain, each refusal said as what it means
(moved out of ``sdex.walletui``, which neared 500 lines)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import click
from rich.console import Console
from rich.markup import escape

from sdex.client import NodeApiError, NodeClient, NodeProtocolError, OrderConfig
from sdex.errors import SdexError
from sdex.model import OrderStatus as ApiStatus
from sdex.order import address_of, to_checksum
from sdex.wallet import fmt_amount, sign_cancel
from sdex.walletchain import node_chain
from sdex.walletkeep import forget
from sdex.walletout import stderr_console
from sdex.walletsettle import meta_uint
from sdex.wallettrust import Trusted, check_listing

UNSTORED_PAUSES = (1.0, 2.0, 4.0)
"""Seconds ``soft_cancel`` waits before each try again of a cancel the node applied but has
not stored (its 503 with the order's ``orderHash`` and ``status``: ``cancel_unstored``); the
same signed cancel, safe to send again (users87: the 503 was shown as a bare error, the
order's kept copy left for ``sdex repost``)."""
UNSTORED_WITHIN = 30.0
"""Seconds from the first send after which no further try starts (a stalling node answers
each by 9.5 s, the client waits 10 s at most: ~40 s in all at most)."""
KNOWN_STATUSES = frozenset(s.value for s in ApiStatus)


def soft_cancel(
    out: Console,
    client: NodeClient,
    config: OrderConfig,
    order_hash: bytes,
    key: bytes,
    onchain: bool = False,
) -> str:
    """Sign a soft cancel, send it and show the order's new status (``sdex cancel``, the
    console's ``cancel``). ``onchain``: it follows ``cancel_onchain``, whose line named the
    order: the node's line goes on that story (ux37: "already cancelled at the node: nothing
    more to cancel" read as a failure when the node had seen the chain's cancel first)."""
    hash_hex = "0x" + order_hash.hex()
    before = _status_at(client, hash_hex)  # (user29: a second cancel said "soft-cancelled")
    try:
        status = _sent(client, hash_hex, sign_cancel(config.domain, order_hash, key))
    except NodeApiError as e:
        raise _said_unknown(_said_not_maker(e, client, hash_hex, key), client, hash_hex) from None
    if status == "kept":  # (cancel65: not known there yet; kept for the order, if it comes)
        # (its kept file forgotten too, user81: reposted to a node that never saw the cancel,
        # it would trade there; the signed cancel stands)
        gone = forget(hash_hex)
        raise _said_unknown(NodeApiError(202, "kept"), client, hash_hex, gone)
    forget(hash_hex)  # (never posted again by ``sdex repost``: it would trade there, wallet80)
    shown = escape(status)
    if status == "cancelled" and onchain:
        out.print(f"the node at {escape(client.base_url)} has it cancelled too")
        _say_traded(out, client, config, hash_hex)  # (review77b: it said only the cancels)
    elif status == "cancelled" and before == "cancelled":
        out.print(
            f"order [bold]{hash_hex}[/] was already cancelled at the node: nothing more to cancel"
        )
    elif status == "cancelled":
        out.print(f"order [bold]{hash_hex}[/] soft-cancelled at the node: status [bold]{shown}[/]")
        _say_traded(out, client, config, hash_hex)
    else:  # (review23: "soft-cancelled ...: status filled"; the node keeps the signed cancel)
        out.print(
            f"order [bold]{hash_hex}[/] was not open at the node (status [bold]{shown}[/]): "
            "nothing left to cancel there"
        )
    return status


def _sent(client: NodeClient, hash_hex: str, signature: bytes) -> str:
    """The order's status once the node answers the cancel 200; while it answers that it
    applied the cancel but has not stored it (``_unstored``), the same cancel sent again,
    after ``UNSTORED_PAUSES``, within ``UNSTORED_WITHIN``. Still not stored then: its kept
    copy forgotten, as a 200's (the cancel went on to the node's peers: posted again, it
    would trade where it had not come yet), and a cancelled order's state said, with what to
    do (``NodeApiError``); an order closed otherwise before (filled, expired) has nothing
    left to cancel: its status, as a 200's."""
    began, err = time.monotonic(), stderr_console()
    for tries, pause in enumerate((*UNSTORED_PAUSES, None), start=1):
        try:
            return client.cancel_order(hash_hex, signature)
        except NodeApiError as e:
            if (status := _unstored(e, hash_hex)) is None:
                raise
            if pause is None or time.monotonic() + pause - began > UNSTORED_WITHIN:
                if status != ApiStatus.CANCELLED.value:  # (closed before: nothing to cancel)
                    return status
                forget(hash_hex)
                said = _not_stored(client, hash_hex, tries, began)
                raise NodeApiError(503, said, e.code) from None
            err.print(
                f"the node cancelled order {hash_hex} but has not stored the cancel yet: "
                f"sending the same cancel again in {pause:g} s (try {tries + 1})"
            )
            time.sleep(pause)
    raise AssertionError("unreachable")  # (the last pause is None: it returned or raised)


def _unstored(e: NodeApiError, hash_hex: str) -> str | None:
    """The order's status in the node's 503 for a cancel it applied (or met closed) but has
    not stored (``sdex.node.softcancel.cancel_unstored``: ``orderHash`` and ``status`` as a
    200's); None for any other refusal (one naming another order, or no known status)."""
    body = e.body
    if e.status != 503 or not isinstance(body, Mapping) or body.get("orderHash") != hash_hex:
        return None
    status = body.get("status")
    return status if isinstance(status, str) and status in KNOWN_STATUSES else None


def _not_stored(client: NodeClient, hash_hex: str, tries: int, began: float) -> str:
    """What a cancel the node applied but never stored in ``tries`` leaves, and what to do."""
    spent = time.monotonic() - began
    return (
        f"order {hash_hex} is cancelled at the node at {client.base_url} (out of its book: "
        "it trades no more through that node; the signed cancel went on to any peers of its), but "
        f"the node did not store the cancel ({tries} tries over {spent:.0f} s: its store "
        "stalls or refuses writes): if it restarts before it stores it, the order comes back "
        f"open there. Run `sdex cancel {hash_hex}` again later (safe: it cancels nothing "
        "more; exit status 0 once the node has stored it), or add --onchain for a cancel no "
        "node can undo (costs gas). This wallet's kept copy of the order is removed: `sdex "
        "repost` will not post it"
    )


def _say_traded(out: Console, client: NodeClient, config: OrderConfig, hash_hex: str) -> None:
    """``_traded_before``'s line, if the order had traded."""
    if (traded := _traded_before(client, config, hash_hex)) is not None:
        out.print(traded)


def _traded_before(client: NodeClient, config: OrderConfig, hash_hex: str) -> str | None:
    """What of a soft-cancelled order had traded (user50: a buy half filled on chain then
    cancelled said only "status cancelled", as if nothing had); None if nothing had, or the
    node cannot say."""
    try:
        rec = client.get_order(hash_hex, timeout=5)
    except (SdexError, OSError):
        return None
    filled = meta_uint(rec.meta_data, "filledMakerAmount")
    o = rec.order
    token = next(
        (
            (sym, t)
            for sym, t in config.tokens.items()
            if t.address.lower() == o.maker_token.lower()
        ),
        None,
    )
    if filled <= 0 or token is None:
        return None
    sym, t = token
    whole = fmt_amount(o.maker_amount, t.decimals)
    done = fmt_amount(min(filled, o.maker_amount), t.decimals)
    return f"it had traded {done} of the {whole} {escape(sym)} it offers (settled on chain)"


def _status_at(client: NodeClient, hash_hex: str) -> str | None:
    """The order's status at the node before the cancel; None if it cannot say (unknown
    order, a node down: the cancel itself then says what is wrong)."""
    try:
        return client.get_order(hash_hex, timeout=5).status
    except (SdexError, OSError):
        return None


def _said_not_maker(e: NodeApiError, client: NodeClient, hash_hex: str, key: bytes) -> NodeApiError:
    """A cancel signed by another key than the maker's, said with both addresses (it read
    "signature: not signed by the order's maker": user28)."""
    if e.status != 400 or not any(f.field == "signature" for f in e.validation_errors):
        return e
    try:
        maker = client.get_order(hash_hex).order.maker
    except (SdexError, OSError):
        return e
    me = address_of(key)
    if maker.lower() == me.lower():
        return e
    return NodeApiError(
        400,
        f"only the order's maker {to_checksum(maker)} can cancel it; this key is "
        f"{to_checksum(me)}: nothing was cancelled",
        e.code,
    )


def _said_unknown(
    e: NodeApiError, client: NodeClient, hash_hex: str, forgotten: bool = False
) -> NodeApiError:
    """A 404 for a cancel, said as what it means (it read "order not found (HTTP 404, code
    100)", naming neither the order nor the node: user25); a 202 ``kept`` (the node keeps
    the cancel for the order, if it comes: cancel65) too, as nothing is cancelled yet, and
    whether this wallet's kept copy of the order was removed (``forgotten``, user81)."""
    if e.status not in (404, 202):
        return e
    removed = "this wallet's kept copy of it is removed: `sdex repost` will not post it; "
    kept = (
        "nothing was cancelled yet (the node keeps the signed cancel for a day and takes "
        "the order cancelled if it comes meanwhile; " + (removed if forgotten else "")
        if e.status == 202
        else "nothing was cancelled ("
    )
    return NodeApiError(
        e.status,
        f"order {hash_hex} is not known to the node at {client.base_url}: {kept}an order is "
        "gossiped to other nodes only once it rests in a book: one filled on arrival is "
        "known only to the node it was posted to; its status: GET "
        f"/v1/orders/{hash_hex} at that node)",  # (user38: "or one of its peers?"; not this
        # node's URL, which answers 404)
        e.code,
    )


def cancel_onchain(
    out: Console,
    client: NodeClient,
    config: OrderConfig,
    order_hash: bytes,
    key: bytes,
    trusted: Trusted,
) -> None:
    """``Exchange.cancelOrder`` for the order the node holds under ``order_hash``, sent to
    ``trusted.rpc`` (else the deployment file's rpc), once the node's chain id and Exchange
    are checked against the deployment file (``check_listing``) and the chain
    (``node_chain``): a node naming another Exchange would have the cancel sent there, and
    the order stay fillable."""
    from sdex.chain import Exchange, OrderStatus, Sender

    try:
        rec = client.get_order("0x" + order_hash.hex())
    except NodeApiError as e:
        raise _said_unknown(e, client, "0x" + order_hash.hex()) from None
    if config.domain.order_hash(rec.order) != order_hash:
        raise NodeProtocolError("the node returned an order whose hash is not the one asked for")
    me = address_of(key)
    if rec.order.maker != me:
        raise click.BadParameter(
            f"only the order's maker {to_checksum(rec.order.maker)} can cancel it on chain; "
            f"this key is {to_checksum(me)}",
            param_hint="'--key'",
        )
    check_listing(config, trusted, stderr_console(), chain=False)
    with node_chain(config, trusted.rpc, trusted.deployment_path) as rpc:
        exchange = Exchange(rpc, config.exchange)
        status = exchange.order_info(rec.order).status
        if status is not OrderStatus.FILLABLE:
            forget("0x" + order_hash.hex())
            # Cancelled, filled or expired: it can no longer trade, and the contract would
            # only take the gas of a second cancel (or revert it).
            out.print(
                f"order [bold]0x{order_hash.hex()}[/] is already {status.name.lower()} on "
                "chain: no transaction sent"
            )
            return
        receipt = exchange.cancel_order(Sender(rpc, key, config.chain_id), rec.order)
    forget("0x" + order_hash.hex())
    out.print(
        f"order [bold]0x{order_hash.hex()}[/] cancelled on chain in tx {receipt.tx_hash} "
        f"(block {receipt.block_number})"
    )
