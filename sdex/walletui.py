"""A wallet's order placed, shared by ``sdex order`` and the console's ``send_order``: the
signed order shown, posted, the node's answer and its refusals said as what happened, and
the settlement followed (consoles and one-line errors: ``sdex.walletout``; the book's tables:
``sdex.walletbook``; cancels: ``sdex.walletcancel``)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from fractions import Fraction

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sdex.client import (
    NodeApiError,
    NodeClient,
    NodeLateError,
    OrderConfig,
    PostedOrder,
)
from sdex.errors import SdexError
from sdex.order import SignedOrder, to_checksum
from sdex.wallet import (
    DEFAULT_EXPIRY,
    MAX_FEE_BPS,
    Market,
    Side,
    fmt_amount,
    fmt_price,
    sign_limit_order,
)
from sdex.walletbook import UNBOUNDED
from sdex.walletkeep import keep
from sdex.walletlate import Unanswered, held_unstored, late, read_back
from sdex.walletout import short_error
from sdex.walletsettle import await_settlement, meta_uint, print_status_url


class FeeRefused(SdexError):
    """The node asks a larger fee than the wallet may pay (``check_fee``): nothing signed."""


def check_fee(config: OrderConfig, max_fee_bps: int, node_url: str) -> None:
    """``FeeRefused`` if ``config`` (the node at ``node_url``'s) asks a fee above
    ``max_fee_bps`` basis points of what an order receives."""
    if config.fee_bps <= max_fee_bps:
        return
    raise FeeRefused(
        f"refusing to sign: the node at {node_url} asks a fee of {config.fee_bps} bps "
        f"({_percent(config.fee_bps)} of what an order receives), above the "
        f"{max_fee_bps} bps this wallet pays (--max-fee-bps); nothing was signed or sent: "
        f"give --max-fee-bps {config.fee_bps} to pay it"
    )


def _percent(bps: int) -> str:
    """Basis points as a percentage, exact (``2.5%``)."""
    whole, part = divmod(bps, 100)
    return (str(whole) if not part else f"{whole}.{part:02d}".rstrip("0")) + "%"


def place_order(
    out: Console,
    client: NodeClient,
    config: OrderConfig,
    m: Market,
    side: Side,
    price: Fraction,
    amount: Fraction,
    key: bytes,
    *,
    tif: str = "gtc",
    expiry_seconds: int = DEFAULT_EXPIRY,
    settle_wait: float = 0.0,
    cancel_with: str = "sdex cancel",
    max_fee_bps: int = MAX_FEE_BPS,
) -> PostedOrder:
    """Sign a limit order, show it, post it and show the node's answer (``sdex order``, the
    console's ``send_order``), or, the answer late or a 503 naming it, what is known of it
    (``sdex.walletlate``); a match still settling is waited for at most ``settle_wait``
    seconds (``await_settlement``). ``WalletInputError``, before anything is sent, if the
    numbers make no valid order. ``cancel_with``: the command that cancels an order where the
    wallet is typed (``cancel`` at the console's prompt), named when a self-trade refusal
    says which order to cancel. ``FeeRefused``, before anything is signed, if the node asks
    a fee above ``max_fee_bps``."""
    check_fee(config, max_fee_bps, client.base_url)
    signed = sign_limit_order(config, m, side, price, amount, key, expiry_seconds=expiry_seconds)
    _print_signed(out, m, side, price, signed, config)
    try:  # (before the POST: one whose answer is lost can be posted again, ``sdex repost``)
        keep(signed, config.domain, tif, m.name, side, client.base_url)
    except OSError as e:
        out.print(
            f"[yellow]note:[/] the signed order was not kept ({escape(short_error(e))}): "
            "`sdex repost` cannot post it again"
        )
    return post_signed(
        out, client, m, side, signed, tif,
        expiry_seconds=expiry_seconds, settle_wait=settle_wait, cancel_with=cancel_with,
    )  # fmt: skip


def post_signed(
    out: Console,
    client: NodeClient,
    m: Market,
    side: Side,
    signed: SignedOrder,
    tif: str,
    *,
    expiry_seconds: int,
    settle_wait: float,
    cancel_with: str = "sdex cancel",
) -> PostedOrder:
    """``signed`` posted (``place_order``, ``sdex repost``): the node's answer shown, or, the
    answer late or a 503 naming it, what is known of it (``sdex.walletlate``); a match still
    settling waited for at most ``settle_wait`` seconds. ``expiry_seconds``: the order's
    expiry from now, said when the node finds it expired."""
    unanswered: Unanswered | None = None
    try:
        posted = client.post_order(signed, tif)
    except NodeApiError as e:
        if (unanswered := held_unstored(e, signed)) is None:
            raise _said_refused(e, expiry_seconds, cancel_with) from None
    except NodeLateError as e:
        unanswered = late(e)
    if unanswered is not None:  # (what is known of it said: ``sdex.walletlate``)
        posted = read_back(out, client, signed, tif, unanswered)
        out.print(f"order [bold]{escape(posted.order_hash)}[/]")
        lead = f"status {escape(posted.status)} (read back); its record:"
        print_status_url(out, client.base_url, posted.order_hash, lead)
    else:
        _print_posted(out, m, side, signed, posted, client.base_url)
    try:
        await_settlement(out, client, m, side, posted, settle_wait)
    except BrokenPipeError:  # (its output's reader went away: ``sdex.clipipe``)
        raise
    except (SdexError, OSError) as e:  # (the order was taken: say so, not a failure)
        out.print(f"[yellow]could not follow the settlement:[/] {escape(short_error(e))}")
    return posted


def _said_refused(
    e: NodeApiError, expiry_seconds: int, cancel_with: str = "sdex cancel"
) -> NodeApiError:
    """The node's EXPIRED, said as what happened (it read only "expiry N is not after the
    latest block", user25): the chain judges expiry by its block time, which may run ahead
    of this machine's clock (a devnet whose time was moved). Its CHAIN_UNAVAILABLE too (it
    read "Validation Failed", the SRA's word for a bad order, user30)."""
    if e.rejection == "CHAIN_UNAVAILABLE":  # (its words once: they were said twice, user44)
        return NodeApiError(
            e.status, _chain_unavailable(e), e.code, [], e.rejection, e.body, e.retry_after
        )
    if e.rejection == "SELF_TRADE":
        return _said_self_trade(e, cancel_with)
    if e.rejection == "FEE_REQUIRED":
        return _said_fee(e)
    if e.rejection != "EXPIRED":
        return e
    said = " ".join(v.reason for v in e.validation_errors)
    bound = re.search(r"is not after (\d{1,20}),", said)  # (the earliest it takes: user48)
    n = int(bound[1]) - int(time.time()) + 5 if bound else 0  # (+5: the time to sign again)
    need = f"an --expiry of at least {n}" if bound else "a longer --expiry"
    reason = (
        f"the order expired before the node took it: its expiry, {expiry_seconds} s from now "
        "by this machine's clock, is not after what the node takes now (the chain's clock "
        "runs ahead of this one, or the expiry is too short); nothing was posted: sign it "
        f"again with {need}"
    )
    return NodeApiError(
        e.status, reason, e.code, e.validation_errors, e.rejection, e.body, e.retry_after
    )


def _chain_unavailable(e: NodeApiError) -> str:
    """ "nothing was posted", then why in the node's words: its error body's ``detail.why``
    (``sdex.ingest.rejections.not_following``), else (a node from before it) its field errors'
    sentences as they are (left48: they were cut apart by regex)."""
    why = _detail_why(e.body)
    if why is None:
        why = "; ".join(v.reason for v in e.validation_errors)[:MAX_WHY]
    why = f" ({why})" if why else ""
    return (
        f"nothing was posted: the node does not follow its chain now{why} and takes no "
        "orders until it does; try again later"
    )


MAX_WHY = 200
"""Characters of a node's why said at most (its body is as hostile as any peer's)."""


def _detail_why(body: object) -> str | None:
    """``detail.why`` of an error body, if it is a short line of text (None otherwise)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    why = detail.get("why") if isinstance(detail, dict) else None
    if not isinstance(why, str) or not why.isprintable() or len(why) > MAX_WHY:
        return None
    return why


def _said_fee(e: NodeApiError) -> NodeApiError:
    """The node's FEE_REQUIRED for an order signed for the fee its order_config said (user81:
    it read only "feeAmount >= 1250000000000000"): the node's fee changed since it was read
    (a restart with another ``--fee-bps``), and signing again reads it anew."""
    said = " ".join(v.reason for v in e.validation_errors)
    bps = m.group(1) if (m := re.search(r"\((\d{1,5}) bps of takerAmount\)", said)) else None
    asks = f"a fee of {bps} bps" if bps is not None else "a larger fee"
    reason = (
        f"the node refused this order's fee: it asks {asks} now, more than its order_config "
        "said when this wallet read it (its fee changed since: a restart with another "
        "--fee-bps); nothing was taken: sign the order again, which reads the node's fee "
        "anew (paid up to --max-fee-bps)"
    )
    return NodeApiError(e.status, reason, e.code, None, e.rejection, e.body, e.retry_after)


def _said_self_trade(e: NodeApiError, cancel_with: str) -> NodeApiError:
    """The node's SELF_TRADE, said as the page says it (user38: the CLI read "Validation
    Failed ...: maker: it would trade with the same maker's resting order 0x...", no next
    step): which of your orders, and what to do."""
    said = " ".join(v.reason for v in e.validation_errors)
    own = m.group(0) if (m := re.search(r"0x[0-9a-f]{64}", said)) else None
    which = f"your own resting order {own}" if own else "one of your own resting orders"
    reason = (
        f"this order's price crosses {which} (an account never trades with itself, even "
        "behind others' better orders): cancel that order"
        + (f" ({cancel_with} {own})" if own else "")  # (ux65: the console's is `cancel`)
        + " or change the price; nothing was posted"
    )
    return NodeApiError(e.status, reason, e.code, None, e.rejection, e.body, e.retry_after)


def _print_signed(
    out: Console, m: Market, side: Side, asked: Fraction, signed: SignedOrder, config: OrderConfig
) -> None:
    o = signed.order
    base, quote = m.base_and_quote(side, o.maker_amount, o.taker_amount)
    limit = m.price(base, quote)
    b, q = m.base_token.decimals, m.quote_token.decimals
    word = "at most" if side is Side.BUY else "at least"
    fee_token, fee_dec = (m.base, b) if side is Side.BUY else (m.quote, q)
    fee = (
        f"fee {fmt_amount(o.fee_amount, fee_dec)} {fee_token} to {to_checksum(o.fee_recipient)} "
        f"({config.fee_bps} bps)"
        if o.fee_amount or config.fee_bps
        else "no fee"
    )
    out.print(
        f"[bold]{side.value.upper()}[/] {fmt_amount(base, b)} {m.base} for {word} "
        f"{fmt_amount(quote, q)} {m.quote} (limit {fmt_price(limit)} {m.quote}/{m.base}); {fee}"
    )
    if limit != asked:
        out.print(
            f"[yellow]note:[/] whole {m.quote} units move the signed limit from "
            f"{fmt_price(asked)} to {fmt_price(limit)}, in your favour"
        )
    out.print(
        f"signed by {to_checksum(o.maker)}"
    )  # (two lines: 103 columns as one, wrapped mid-date)
    out.print(f"expires {utc_time(o.expiry)} (unix {o.expiry})")


def utc_time(unix: int) -> str:
    """``unix`` seconds as a UTC date and time; "after the year 9999" past what a date holds
    (review19: ``--expiry 99999999999999``, a uint64 the order takes, ended ``sdex order``
    in a traceback after it was signed)."""
    try:
        return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError, OSError):
        return "after the year 9999"


_OUTCOME_WORDS = {
    "dropped": "the unmatched rest was dropped (ioc)",
    "killed": "killed (fok): it could not be matched in full now; nothing traded",
    "expired": "expired: it was not matched",
}


def posted_summary(posted: PostedOrder) -> str:
    """What happened to a posted order, in words, then the node's status and outcome.

    The status counts only fills confirmed on chain, so a taker matched in full reads
    ``partially_filled`` until its settlement is mined: say so, not just the two words."""
    pending = _meta_int(posted, "pendingMakerAmount")
    matched = bool(posted.matches)
    mined = pending and posted.status in ("open", "partially_filled")  # (not final yet)
    until = " until the settlement is mined" if mined else ""
    raw = f"status {escape(posted.status)}{until}" + (
        f", outcome {escape(posted.outcome)}" if posted.outcome else ""
    )
    if not posted.created:
        words = "the node already had this order"
    elif posted.outcome == "filled":
        words = "matched in full, settlement pending on chain"
        if posted.status == "filled" and not pending:
            words = "filled"
    elif posted.outcome == "rested":
        where = "rests in the book" + (" (unfunded)" if posted.status == "unfunded" else "")
        words = f"partly matched; the rest {where}" if matched else f"{where}, no match yet"
    elif posted.outcome == "dropped":
        words = (
            "partly matched; " + _OUTCOME_WORDS["dropped"]
            if matched
            else "no match: dropped (ioc), nothing traded"
        )
    elif posted.outcome in _OUTCOME_WORDS:
        words = _OUTCOME_WORDS[posted.outcome]
    else:
        words = ""
    why = str(posted.meta_data.get("reason", ""))  # (left50: the node's landing time)
    if words and not matched and why.startswith(f"{posted.outcome}: "):
        words += f" — {escape(why.partition(': ')[2])}"
    if matched and pending and posted.outcome != "filled":
        words += "; settlement pending on chain"
    return f"[bold]{words}[/] ({raw})" if words else raw


def _meta_int(posted: PostedOrder, name: str) -> int:
    """A uint256 amount of the answer's metaData; 0 when absent or not one."""
    return meta_uint(posted.meta_data, name)


def resting_dust(signed: SignedOrder, posted: PostedOrder) -> int:
    """The maker amount left resting when it is worth less than one unit of the taker token
    at the order's own price (no taker can fill it at that price), else 0."""
    if posted.outcome != "rested" or "remainingMakerAmount" not in posted.meta_data:
        return 0
    o = signed.order
    left = _meta_int(posted, "remainingMakerAmount") - _meta_int(posted, "pendingMakerAmount")
    return left if left > 0 and left * o.taker_amount < o.maker_amount else 0


def _uncovered(posted: PostedOrder) -> int | None:
    """What the maker can pay of a resting order (``remainingFillableMakerAmount``) when it is
    less than what rests, else None."""
    meta = posted.meta_data
    if posted.outcome != "rested" or "remainingFillableMakerAmount" not in meta:
        return None
    left = _meta_int(posted, "remainingMakerAmount") - _meta_int(posted, "pendingMakerAmount")
    fillable = _meta_int(posted, "remainingFillableMakerAmount")
    return fillable if fillable < left else None


def uncovered_words(covered: str, symbol: str) -> str:
    """What a resting order's maker can pay of it, said the same by ``sdex order``, the
    console and the page (``covered``: a formatted amount, "0" for none)."""
    shared = "the wallet's balance and allowance (shared by its open orders)"
    if covered == "0":
        return (
            f"{shared} cover none of it now; the book offers none of it until the wallet holds more"
        )
    return (
        f"{shared} cover {covered} {symbol} of it now; the book offers that much, the rest "
        "once the wallet holds more"
    )


def _print_posted(
    out: Console, m: Market, side: Side, signed: SignedOrder, posted: PostedOrder, node: str
) -> None:
    b, q = m.base_token.decimals, m.quote_token.decimals
    out.print(f"order [bold]{escape(posted.order_hash)}[/]")
    out.print(posted_summary(posted))
    if posted.order_hash != signed.hash_hex:
        out.print(f"[yellow]warning:[/] the node reports another hash than ours, {signed.hash_hex}")
    dust = resting_dust(signed, posted)
    if dust:
        o = signed.order
        give, get = (m.quote, m.base) if side is Side.BUY else (m.base, m.quote)
        give_dec = q if side is Side.BUY else b
        out.print(
            f"[yellow]note:[/] what rests, {fmt_amount(dust, give_dec)} {give}, is worth less than "
            f"one unit of {get} at its price ({o.taker_amount}/{o.maker_amount} units): it can "
            f"hardly ever trade. Cancel it: sdex cancel {escape(posted.order_hash)}"
        )
    unfunded = _uncovered(posted)
    if unfunded is not None:  # (user29: 100000 WETH from a wallet of 1,000 said only "rests")
        give, give_dec = (m.quote, q) if side is Side.BUY else (m.base, b)
        out.print(f"[yellow]note:[/] {uncovered_words(fmt_amount(unfunded, give_dec), give)}")
    if not posted.matches:
        return
    rows: list[tuple[str, str, str, str]] = []
    total_base = total_quote = 0
    for x in posted.matches:
        # The posted order is the incoming one: it gives its maker token, the resting one
        # gives the other token.
        mine, theirs = x.incoming_maker_amount, x.resting_maker_amount
        base, quote = (theirs, mine) if side is Side.BUY else (mine, theirs)
        total_base, total_quote = total_base + base, total_quote + quote
        price = fmt_price(m.price(base, quote)) if base else "-"
        rows.append(
            (escape(x.resting_order_hash), fmt_amount(base, b), fmt_amount(quote, q), price)
        )
    table = _matches_table(m, rows, True)
    whole = out.measure(table, options=out.options.update_width(UNBOUNDED)).maximum <= out.width
    out.print(table if whole else _matches_table(m, rows, False))
    if not whole:  # (users86: each hash folded over two lines of the table, as book's were)
        for k, row in enumerate(rows, 1):
            out.print(f"#{k} {row[0]}", soft_wrap=True)
    verb = "bought" if side is Side.BUY else "sold"
    out.print(
        f"{verb} {fmt_amount(total_base, b)} {m.base} for {fmt_amount(total_quote, q)} "
        f"{m.quote} once settled on chain"
    )  # (the URL on its own line: the sentence with it was ~150 columns piped, user38)
    print_status_url(out, node, posted.order_hash, "the order's status:")


def _matches_table(m: Market, rows: list[tuple[str, str, str, str]], hashes: bool) -> Table:
    """A posted order's matches: each resting order's hash in it, whole (``hashes``), or its
    row's number (its hash listed after the table, as ``sdex book`` does in a narrow one)."""
    table = Table(title=f"matches ({len(rows)}), settling on chain", title_justify="left")
    table.add_column("resting order", no_wrap=True, justify="left" if hashes else "right")
    table.add_column(f"{m.base}", justify="right")
    table.add_column(f"{m.quote}", justify="right")
    table.add_column(f"price ({m.quote}/{m.base})", justify="right")
    for k, (h, *cells) in enumerate(rows, 1):
        table.add_row(h if hashes else f"#{k}", *cells)
    return table
