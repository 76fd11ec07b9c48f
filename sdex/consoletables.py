"""The console's tables: what ``sdex.console``'s commands fetched, drawn. Pure rendering.

``sdex.console`` parses a command, asks the node (and resolves what the node did not say, such
as the market of a fill whose order it never held), then hands the records here; nothing in
this module talks to a node or keeps state. Cells share ``sdex.walletui``'s formatting, so an
order looks the same in the console as in ``sdex order`` and ``book``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.markup import escape
from rich.table import Table

from sdex.client import OrderConfig, OrderRecord
from sdex.model import FillEvent
from sdex.wallet import Market, Side, fmt_amount, fmt_price
from sdex.walletui import add_column, order_view, remaining_amounts, short_id

View = tuple[Market, Side] | None  # an order's market and side; None for unlisted tokens


def who(address: str, me: str) -> str:
    """An address as a cell: "you" for the console's wallet, else shortened."""
    return "you" if address == me else short_id(address)


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
    table = Table(title=f"{title} ({len(records)})", title_justify="left")
    for name in ("order", "pair", "side", "price", "amount", "left", "status", "maker"):
        add_column(table, name, width)
    for rec in records:
        o = rec.order
        view = order_view(config, m, o)
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
        table.add_row(rec.order_hash, *row, escape(rec.status), who(o.maker, me))
    return table


def fills_table(fills: Iterable[tuple[FillEvent, View]], *, me: str, width: int) -> Table:
    """``fills``' table: each fill with the market and side its order was seen in (the fee is
    the taker's, in the token it receives); raw units where that is unknown."""
    rows = list(fills)
    table = Table(title=f"fills ({len(rows)})", title_justify="left")
    for name in ("block", "order", "pair", "side", "amount", "price", "fee", "maker", "tx"):
        add_column(table, name, width)
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
        table.add_row(
            str(f.block_number),
            "0x" + f.order_hash.hex(),
            *row,
            who(f.maker, me),
            short_id(escape(f.tx_hash)),
        )
    return table


def help_table(entries: Iterable[tuple[Sequence[str], str]]) -> Table:
    """``help``'s list: each command's usages, the first beside its one-line summary."""
    table = Table(box=None, show_header=False, pad_edge=False)
    for usages, summary in entries:
        table.add_row(escape(usages[0]), summary)
        for usage in usages[1:]:
            table.add_row(escape(usage), "")
    return table
