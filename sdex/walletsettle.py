"""Following a wallet's matched order to the chain (``sdex order --wait``, the console's
``send_order``): its record read until no fill of it is in flight, each read within what is
left of the wait, then what the chain did in words: the amounts mined, their transactions,
or that the settlement failed."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape

from sdex.client import NodeClient, NodeUnreachableError, OrderRecord, PostedOrder
from sdex.model import FillEvent
from sdex.wallet import Market, Side, fmt_amount

SETTLE_POLL = 0.25
"""Seconds between two reads of a settling order's record (``await_settlement``)."""
MIN_READ = 0.5
"""Seconds a record read gets at least while waiting (the wait's last read may overrun)."""
MOST_FILL_PAGES = 10
"""Pages of a settled order's fills read at most (of ``MAX_PER_PAGE``: 10,000 fills): a node
that keeps answering a next page is not read on for long."""
MAX_PER_PAGE = 1000
"""The most records a listing page holds (the API's ``perPage`` bound)."""
MOST_SETTLING_TXS = 5
"""Transactions named in a settlement's line; more are counted."""


def print_status_url(out: Console, base_url: str, order_hash: str, lead: str) -> None:
    """``lead``, then where the order's record is, naming the node (user62: a bare
    ``/v1/orders/0x…`` said neither the node nor how to read it): its whole URL on a line of
    its own, to open or ``curl``, piped too. users89: piped, the URL (~100 columns with its
    hash) was split after the node's address to keep lines within 80 (user44's rule), so a
    copy of it, or ``grep -o 'http[^ ]*'``, got the node's address alone: like a hash, a URL
    is one word, never broken; only it passes the width."""
    out.print(lead)
    out.print(f"{escape(base_url)}/v1/orders/{escape(order_hash)}", soft_wrap=True)


def await_settlement(
    out: Console, client: NodeClient, m: Market, side: Side, posted: PostedOrder, wait: float
) -> None:
    """For a posted order matched and still settling: read its record until no fill of it is
    in flight (at most ``wait`` seconds), then say what the chain did: the amounts mined and
    their transactions, or that the settlement failed, with the node's status (review17)."""
    pending = meta_uint(posted.meta_data, "pendingMakerAmount")
    if not pending or not wait > 0:  # (nan: no wait, never forever)
        return
    # (an order read back has no matches listed: what is in flight of it, wallet78)
    matched = sum(x.incoming_maker_amount for x in posted.matches) or pending
    out.print(f"waiting for the settlement on chain (at most {wait:g} s)...")
    end = time.monotonic() + wait
    rec = _read_until(client, posted.order_hash, end)
    while rec is None or meta_uint(rec.meta_data, "pendingMakerAmount"):
        if rec is None or time.monotonic() + SETTLE_POLL > end:
            known = f"status {escape(rec.status)}" if rec else "the node did not answer in time"
            if rec is not None and (chain := chain_status(rec.meta_data)):
                known += f"; the node's chain is {chain}: nothing settles until it is back"
            lead = f"[yellow]still settling[/] after {wait:g} s ({known}); its status:"
            print_status_url(out, client.base_url, posted.order_hash, lead)
            return
        time.sleep(SETTLE_POLL)
        rec = _read_until(client, posted.order_hash, end)
    filled = meta_uint(rec.meta_data, "filledMakerAmount") - (
        meta_uint(posted.meta_data, "filledMakerAmount")
    )
    status = f"status {escape(rec.status)}"
    if filled <= 0:
        reason = rec.meta_data.get("reason")
        why = f": {escape(str(reason)[:200])}" if reason else ""
        rests = "; the order rests in the book" if rec.status in ("open", "unfunded") else ""
        out.print(f"[bold red]settlement failed[/], nothing traded{why}{rests} ({status})")
        return
    # every page of them (review19: the first 100 only, and an order that took more resting
    # orders than that was said to have got less than it did), until they add up to what
    # the record says filled
    listed = client.all_fills(MAX_PER_PAGE, max_pages=MOST_FILL_PAGES, order_hash=posted.order_hash)
    fills: list[FillEvent] = []
    given, total = 0, meta_uint(rec.meta_data, "filledMakerAmount")
    for f in listed:
        if "0x" + f.order_hash.hex() == posted.order_hash:
            fills.append(f)
            given += f.maker_filled
            if given >= total:
                break
    got = sum(f.taker_filled for f in fills)
    txs = list(dict.fromkeys(f.tx_hash for f in fills))
    named = ", ".join(txs[:MOST_SETTLING_TXS]) + (
        f" and {len(txs) - MOST_SETTLING_TXS} more" if len(txs) > MOST_SETTLING_TXS else ""
    )
    base, quote = m.base_and_quote(side, filled, got)
    verb = "bought" if side is Side.BUY else "sold"
    words = f"settled on chain: {verb} {fmt_amount(base, m.base_token.decimals)} {m.base} for "
    words += f"{fmt_amount(quote, m.quote_token.decimals)} {m.quote}"
    if fee := sum(f.fee for f in fills):  # (taken from what the order receives: user60)
        sym, dec, got_gross = (
            (m.base, m.base_token.decimals, base)
            if side is Side.BUY
            else (m.quote, m.quote_token.decimals, quote)
        )
        words += (
            f", less the fee of {fmt_amount(fee, dec)} {sym}: "
            f"{fmt_amount(got_gross - fee, dec)} {sym} received"
        )
    if filled < matched:
        words += f" ([bold red]part of the match failed to settle[/]: {filled} of {matched} units)"
    out.print(f"[bold]{words}[/] (tx {named or 'unknown'}; {status})")


def _read_until(client: NodeClient, order_hash: str, end: float) -> OrderRecord | None:
    """The order's record, read within what is left of the wait (not the client's longer
    timeout: ``--wait 1`` lasted 10 s more); None when the wait ran out before an answer."""
    left = end - time.monotonic()
    try:
        return client.get_order(order_hash, timeout=max(left, MIN_READ))
    except NodeUnreachableError:
        if time.monotonic() < end:
            raise
        return None


def chain_status(meta: dict[str, object]) -> str:
    """A record's ``chainStatus`` (the node's chain not ``ok``: ``unreachable``, ``behind``,
    ...), escaped and bounded; "" when absent."""
    raw = meta.get("chainStatus")
    return escape(raw[:40]) if isinstance(raw, str) and raw.isprintable() else ""


def meta_uint(meta: dict[str, object], name: str) -> int:
    """A uint256 amount of a record's metaData; 0 when absent or not one."""
    raw = meta.get(name)
    if not isinstance(raw, str) or len(raw) > 78 or not (raw.isascii() and raw.isdigit()):
        return 0
    return int(raw)
