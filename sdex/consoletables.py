"""The console's tables: what ``sdex.console``'s commands fetched, drawn. Pure rendering.

``sdex.console`` parses a command, asks the node (and resolves what the node did not say, such
as the market of a fill whose order it never held), then hands the records here; nothing in
this module talks to a node or keeps state. Cells share ``sdex.walletbook``'s formatting, so an
order looks the same in the console as in ``sdex order`` and ``book``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.markup import escape
from rich.table import Table

from sdex.client import OrderConfig, OrderRecord
from sdex.model import FillEvent
from sdex.order import to_checksum
from sdex.wallet import Market, Side, fmt_amount, fmt_price
from sdex.walletbook import WHOLE_HASHES_WIDTH, add_column, order_view, remaining_amounts, short_id

View = tuple[Market, Side] | None  # an order's market and side; None for unlisted tokens

WHOLE = frozenset({"pair", "side", "price", "amount", "left", "status", "block", "maker", "tx"})
"""Columns never folded: a number folded mid-digits read as two (user31: "4998.499" over
"625" in 80 columns), a pair or a status as garbage; the addresses are shortened. The order
hash (and a fee) give way."""


def narrow(width: int) -> bool:
    return width < WHOLE_HASHES_WIDTH


def who(address: str, me: str, width: int = WHOLE_HASHES_WIDTH) -> str:
    """An address as a cell: "you" for the console's wallet, else shortened (more so in a
    narrow terminal, as the web page does: ``0x3C44…93BC``)."""
    if address == me:
        return "you"
    if len(address) == 42:  # (an address checksummed, as every command says it: users89)
        address = to_checksum(address)  # (a fill's transaction hash is shown so too)
    return short_id(address) if not narrow(width) else f"{address[:6]}…{address[-4:]}"


def new_table(title: str, width: int) -> Table:
    """A console table; in a narrow terminal without its rules (the borders of 8 columns took
    25 of an 80-column terminal's)."""
    if narrow(width):  # (two spaces between columns, none at the edges)
        return Table(title=title, title_justify="left", box=None, pad_edge=False)
    return Table(title=title, title_justify="left")


def columns(table: Table, names: Sequence[str], width: int) -> None:
    for name in names:
        if name in WHOLE and narrow(width):
            table.add_column(name, no_wrap=True, justify="right")
        else:
            add_column(table, name, width)


def one_pair(names: Iterable[str | None], width: int) -> str | None:
    """The pair every row shares, to say in a narrow table's title instead of a column."""
    seen = set(names)
    if not narrow(width) or len(seen) != 1:
        return None
    (name,) = seen
    return name


def orders_table(
    config: OrderConfig,
    m: Market,
    title: str,
    records: Sequence[OrderRecord],
    *,
    me: str,
    width: int,
) -> Table:
    """``get_dump``'s table: one row per order, in human units where the node lists the
    tokens, else in raw units."""
    views = [order_view(config, m, rec.order) for rec in records]
    pair = one_pair((v[0].name if v else None for v in views), width)
    said = f"{title} ({len(records)})" + (f", {pair}" if pair else "")
    table = new_table(said, width)
    names = ("order", "pair", "side", "price", "amount", "left", "status", "maker")
    columns(table, [n for n in names if not (pair and n == "pair")], width)
    for rec, view in zip(records, views, strict=True):
        o = rec.order
        if view is None:  # tokens the node does not list: raw units
            row = ["?", "?", f"{o.taker_amount}/{o.maker_amount}", str(o.maker_amount)]
            row.append(str(rec.remaining))
        else:
            vm, side = view
            b = vm.base_token.decimals
            base, _ = vm.base_and_quote(side, o.maker_amount, o.taker_amount)
            left, _ = remaining_amounts(vm, side, rec)
            row = [vm.name, side.value, fmt_price(vm.order_price(side, o))]
            row += [fmt_amount(base, b), fmt_price(left, b)]
        if pair:
            row = row[1:]
        table.add_row(rec.order_hash, *row, escape(rec.status), who(o.maker, me, width))
    return table


def fills_table(fills: Iterable[tuple[FillEvent, View]], *, me: str, width: int) -> Table:
    """``fills``' table: each fill with the market and side its order was seen in (the fee is
    the taker's, in the token it receives); raw units where that is unknown."""
    rows = list(fills)
    pair = one_pair((v[0].name if v else None for _, v in rows), width)
    table = new_table(f"fills ({len(rows)})" + (f", {pair}" if pair else ""), width)
    names = ("block", "order", "pair", "side", "amount", "price", "fee", "maker", "tx")
    columns(table, [n for n in names if not (pair and n == "pair")], width)
    for f, view in rows:
        if view is None:
            row = ["?", "?", str(f.maker_filled), f"{f.taker_filled}/{f.maker_filled}"]
            row.append(str(f.fee))
        else:
            vm, side = view
            base, quote = vm.base_and_quote(side, f.maker_filled, f.taker_filled)
            fee_token = vm.base_token if side is Side.BUY else vm.quote_token  # the taker's
            fee_sym = vm.base if side is Side.BUY else vm.quote
            price = fmt_price(vm.price(base, quote)) if base else "-"
            row = [vm.name, side.value, fmt_amount(base, vm.base_token.decimals), price]
            row.append(f"{fmt_amount(f.fee, fee_token.decimals)} {fee_sym}")
        if pair:
            row = row[1:]
        table.add_row(
            str(f.block_number),
            "0x" + f.order_hash.hex(),
            *row,
            who(f.maker, me, width),
            escape(who(f.tx_hash, "", width)),
        )
    return table


def help_table(entries: Iterable[tuple[Sequence[str], str]]) -> Table:
    """``help``'s list: each command's usages, the first beside its one-line summary."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(no_wrap=True)  # (a usage broken in two read as two commands: user31)
    table.add_column()
    for usages, summary in entries:
        table.add_row(escape(usages[0]), summary)
        for usage in usages[1:]:
            table.add_row(escape(usage), "")
    return table
