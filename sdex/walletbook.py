"""A node's order book as the wallet shows it (``sdex book``, the console's ``book``, its
other tables' cells): each record checked to carry its own hash and side, best first, the
amounts left in human units; a listing read while the node does not follow its chain said so
(split from ``sdex.walletui``)."""

from __future__ import annotations

from fractions import Fraction

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sdex.client import NodeClient, NodeProtocolError, OrderConfig, OrderRecord, Page
from sdex.order import Order
from sdex.wallet import Market, Side, fmt_price

_CHAIN_WORDS = {
    "unreachable": "cannot reach",
    "behind": "is behind",
    "wrong-chain": "is not on",
    "replaying": "replays",
}


def stale_warning(out: Console, chain_status: str, what: str) -> None:
    """A listing read while the node's view of its chain is not current (its page's
    ``chainStatus``), said before it (user29: a node cut off from its chain showed its book
    as current)."""
    if chain_status:
        out.print(
            f"[yellow]warning:[/] the node {_CHAIN_WORDS.get(chain_status, 'does not follow')} "
            f"its chain now (chainStatus {escape(chain_status)}): {what} as it last read the "
            "chain; orders may have filled, been cancelled or lost their funds since"
        )


def show_book(out: Console, client: NodeClient, config: OrderConfig, m: Market, depth: int) -> None:
    """Fetch a node's book for a market and show it, asks above bids (``sdex book``, the
    console's ``book``). Where a side's table with its order hashes whole is wider than the
    console (~120 columns), its rows are numbered and their hashes listed after it, one a
    line (users83: at 80 columns each hash was folded over three lines of the table, with
    its borders: none could be copied into ``sdex cancel``)."""
    ob = client.orderbook(m.base_token.address, m.quote_token.address, per_page=depth)
    stale_warning(out, ob.chain_status, "this book is")
    for title, side, page in (("asks", Side.SELL, ob.asks), ("bids", Side.BUY, ob.bids)):
        rows = book_rows(config, m, title, side, page)
        table = _book_table(m, title, side, page, rows, True)
        if out.measure(table, options=out.options.update_width(UNBOUNDED)).maximum <= out.width:
            out.print(table)
            continue
        out.print(_book_table(m, title, side, page, rows, False))
        for k, (_, rec) in enumerate(rows, 1):
            out.print(f"#{k} {escape(rec.order_hash)}", soft_wrap=True)


UNBOUNDED = 10_000
"""Columns a table is measured in (its natural width: in the console's own, it fits)."""


def check_record(config: OrderConfig, rec: OrderRecord, what: str) -> None:
    """Shown hashes are our own EIP-712 hashes of the orders: refuse a node that misstates one."""
    if "0x" + config.domain.order_hash(rec.order).hex() != rec.order_hash:
        raise NodeProtocolError(f"the node's {what} misstate the hash of an order")


def book_rows(
    config: OrderConfig, m: Market, title: str, side: Side, page: Page
) -> list[tuple[Fraction, OrderRecord]]:
    """A book side's records with their limit prices, best first, each checked to carry its
    own hash and to be on ``side``."""
    rows: list[tuple[Fraction, OrderRecord]] = []
    for rec in page.records:
        check_record(config, rec, title)
        if m.side_of(rec.order) is not side:
            raise NodeProtocolError(
                f"the node's {title} hold order {rec.order_hash} of another side"
            )
        rows.append((m.order_price(side, rec.order), rec))
    # Best first; the sort is stable, so equal prices keep the node's (time) order.
    rows.sort(key=lambda r: r[0], reverse=side is Side.BUY)
    return rows


def remaining_amounts(m: Market, side: Side, rec: OrderRecord) -> tuple[Fraction, Fraction]:
    """What is left of an order on ``side`` as human (base, quote) amounts, exact."""
    o = rec.order
    # remainingFillableMakerAmount is in the maker token: quote for bids, base for asks.
    if side is Side.BUY:
        quote = Fraction(rec.remaining)
        base = quote * o.taker_amount / o.maker_amount
    else:
        base = Fraction(rec.remaining)
        quote = base * o.taker_amount / o.maker_amount
    return base / 10**m.base_token.decimals, quote / 10**m.quote_token.decimals


def _book_table(
    m: Market, title: str, side: Side, page: Page, rows: list[tuple[Fraction, OrderRecord]],
    hashes: bool,
) -> Table:  # fmt: skip
    """A book side's table: each order's hash in it, whole (``hashes``), or its row's number
    (``#``: its hash is listed after the table)."""
    shown = f"{len(rows)} of {page.total}" if page.total > len(rows) else str(len(rows))
    table = Table(title=f"{m.name} {title} ({shown})", title_justify="left")
    if not hashes:
        table.add_column("order", justify="right")
    table.add_column(f"price ({m.quote})", justify="right")
    table.add_column(f"amount ({m.base})", justify="right")
    # (ux51: "total (USDC)" here beside the page's "Total (WETH)", the running total of a
    # level's sizes: one word, two things in two units; this is what the order's rest is worth)
    table.add_column(f"value ({m.quote})", justify="right")
    if hashes:
        table.add_column("order", no_wrap=True)
    b, q = m.base_token.decimals, m.quote_token.decimals
    for k, (price, rec) in enumerate(rows, 1):
        base, quote = remaining_amounts(m, side, rec)
        cells = [fmt_price(price), fmt_price(base, b), fmt_price(quote, q)]
        table.add_row(*([*cells, rec.order_hash] if hashes else [f"#{k}", *cells]))
    return table


def order_view(config: OrderConfig, m: Market, order: Order) -> tuple[Market, Side] | None:
    """How to show an order: in the console's market if it is of it, else in the market the
    node lists for its two tokens (one pair vocabulary), else as a sell of its maker token in
    MAKER/TAKER; None if the node does not list both tokens."""
    side = m.side_of(order)
    if side is not None:
        return m, side
    symbols = {t.address: sym for sym, t in config.tokens.items()}
    give, get = symbols.get(order.maker_token), symbols.get(order.taker_token)
    if give is None or get is None:
        return None
    for b, q in config.pairs:
        listed = Market(b, q, config.tokens[b], config.tokens[q])
        side = listed.side_of(order)
        if side is not None:
            return listed, side
    return Market(give, get, config.tokens[give], config.tokens[get]), Side.SELL


WHOLE_HASHES_WIDTH = 160
"""Terminal columns from which the console's tables keep an order hash on one line: below,
the other columns would get no room at all (at 80 a dump showed hashes and empty cells)."""


def add_column(table: Table, name: str, width: int = WHOLE_HASHES_WIDTH) -> None:
    """``width``: the terminal's. In a wide one an order hash is kept whole on one line, to
    copy into `cancel`, and the others give way; in a narrow one it folds, as `book`'s."""
    if name == "order" and width >= WHOLE_HASHES_WIDTH:
        table.add_column(name, no_wrap=True, min_width=66)
    elif name == "order":
        table.add_column(name, overflow="fold", min_width=14)
    else:
        table.add_column(name, overflow="fold", justify="right")


def short_id(hex_id: str) -> str:
    """A transaction hash or an address as wallets show them, ``0x1234abcd…cdef`` (the order
    hashes stay whole: they are what ``cancel`` takes)."""
    return hex_id if len(hex_id) <= 16 else f"{hex_id[:10]}…{hex_id[-4:]}"
