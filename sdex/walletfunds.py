"""``sdex balance``: a wallet's funds per token, as the web page's funds line says them
(user63's trial: the page showed them since user62, the command line had no way to see
them; a wallet learnt only from ``sdex order``'s note, after signing, that it could not pay).

For each listed token (or a ``--pair``'s two): what the wallet holds, what it lets the
Exchange take (the ERC-20 allowance), what its open orders at the node still offer (open,
partially filled or unfunded: their ``remainingMakerAmount``), and what is free for a new
order: the smaller of the first two, less the third. Balances and allowances are read from
the node's chain (``--rpc``, else the deployment file's), all at one block, in one batch;
the open orders from the node's listing, walked by cursor."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sdex.client import ListingTooLong, NodeClient, OrderConfig, OrderRecord
from sdex.cliopts import (
    checked_pair,
    converter,
    deployment_option,
    node_option,
    one_line_errors,
    pair_market,
    rpc_option,
)
from sdex.deployment import TokenInfo
from sdex.errors import ChainError, ContractRevert, OrderParseError
from sdex.model import OPEN_STATUSES
from sdex.order import address_of, parse_address, to_checksum
from sdex.wallet import Market, WalletInputError, fmt_amount, parse_key
from sdex.walletbook import check_record, stale_warning
from sdex.walletchain import node_chain
from sdex.walletout import plain, stdout_console
from sdex.walletsettle import meta_uint
from sdex.wallettrust import SHOW, Trusted, check_file, check_tokens_on_chain

if TYPE_CHECKING:
    from sdex.chain import Rpc

UNLIMITED = 1 << 128
"""An allowance this large reads "unlimited", as max-uint approvals are (the page's rule)."""
MAX_TOKENS = 16
"""Tokens read without ``--pair``: a node listing more is asked for one market."""
OPEN_PAGES = 10
"""Pages walked at most per open status (5,000 orders, as the web page reads): a node holds at
most 1,000 open orders of a maker by default; one listing more is said to (``cut_note``), its
figures then bounds, and the command exits 1."""
OPEN_PER_PAGE = 500
BALANCE_OF = "0x70a08231"
ALLOWANCE = "0xdd62ed3e"
_UINT = re.compile(r"0x[0-9a-fA-F]{1,64}")


@dataclass(frozen=True, slots=True)
class TokenFunds:
    """One token's figures, in its base units (``unread``: why its balance and allowance
    could not be read; then they are 0 and not shown)."""

    symbol: str
    address: str
    decimals: int
    balance: int
    allowance: int
    held: int
    unread: str = ""

    @property
    def free(self) -> int:
        """What a new order can still be backed by: balance and allowance, less the open
        orders' share (never below 0)."""
        return max(0, min(self.balance, self.allowance) - self.held)

    def to_json(self) -> dict[str, Any]:
        if self.unread:
            return {
                "address": self.address,
                "decimals": self.decimals,
                "held": str(self.held),
                "error": self.unread,
            }
        return {
            "address": self.address,
            "decimals": self.decimals,
            "balance": str(self.balance),
            "allowance": str(self.allowance),
            "held": str(self.held),
            "free": str(self.free),
        }


def _word(address: str) -> str:
    return address.lower().removeprefix("0x").rjust(64, "0")


def _uint(raw: object, what: str) -> int:
    if isinstance(raw, BaseException):
        raise ChainError(f"the chain refused to read {what}: {raw}")
    if not isinstance(raw, str) or not _UINT.fullmatch(raw):
        raise ChainError(f"the chain's answer for {what} is not a uint256: {str(raw)[:80]!r}")
    return int(raw, 16)


def _unread(raw: object, what: str) -> str:
    """Why one token call's answer is not a figure ("" when it is one): the chain's words
    bounded and ``plain``, as they come from a node the wallet may not run (a revert's reason
    is the token's author's)."""
    return plain(_why_unread(raw, what))


def _why_unread(raw: object, what: str) -> str:
    if isinstance(raw, ContractRevert):
        return f"its {what} reverted ({str(raw)[:160]})"
    if isinstance(raw, BaseException):
        return f"the chain refused its {what}: {str(raw)[:160]}"
    if not isinstance(raw, str) or not _UINT.fullmatch(raw):
        return f"its {what} answered {str(raw)[:80]!r}, not a uint256"
    return ""


Read = tuple[int, int] | str
"""A token's (balance, allowance), or why they could not be read."""


def read_chain(
    rpc: Rpc, exchange: str, owner: str, tokens: dict[str, str]
) -> tuple[int, dict[str, Read]]:
    """The chain's head block and, at it, ``owner``'s (balance, allowance to ``exchange``)
    of each of ``tokens`` (symbol -> address): one batch. A token whose calls fail (no
    contract at its address, a revert, an answer that is not a uint256) gets why instead
    (its ``eth_getCode`` read then, in a second batch, to tell an address with no contract)."""
    head = _uint(rpc.call("eth_blockNumber"), "the head block")
    at = hex(head)
    calls: list[tuple[str, list[Any]]] = []
    for address in tokens.values():
        calls.append(("eth_call", [{"to": address, "data": BALANCE_OF + _word(owner)}, at]))
        calls.append(
            ("eth_call", [{"to": address, "data": ALLOWANCE + _word(owner) + _word(exchange)}, at])
        )
    got = rpc.batch(calls)
    out: dict[str, Read] = {}
    for i, sym in enumerate(tokens):
        bal, allow = got[2 * i], got[2 * i + 1]
        why = _unread(bal, "balanceOf") or _unread(allow, "allowance")
        out[sym] = why or (int(bal, 16), int(allow, 16))
    failed = [sym for sym, r in out.items() if isinstance(r, str)]
    if failed:
        codes = rpc.batch([("eth_getCode", [tokens[sym], at]) for sym in failed])
        for sym, code in zip(failed, codes, strict=True):
            if code in ("0x", "0x0"):
                out[sym] = f"no contract at {to_checksum(tokens[sym])} on this chain"
    return head, out


Cut = list[tuple[str, int]]
"""The open statuses whose walk stopped with pages left: (status, how many of it were read)."""


def open_orders(
    client: NodeClient, config: OrderConfig, owner: str
) -> tuple[dict[str, OrderRecord], Cut]:
    """``owner``'s orders the node still holds open (by hash, each checked to be the
    order's own: one order listed twice under made-up hashes is refused): one walk per open
    status (an order that changed status between two walks is counted once, as last read),
    and the statuses whose walk stopped after ``OPEN_PAGES`` pages with more to read."""
    found: dict[str, OrderRecord] = {}
    cut: Cut = []
    stale = ""
    for status in OPEN_STATUSES:
        read = 0
        walked = client.all_orders(
            maker=owner, status=status.value, per_page=OPEN_PER_PAGE, max_pages=OPEN_PAGES
        )
        try:
            for rec in walked:
                # (a record of another maker or status is not the wallet's open order: left out)
                if rec.order.maker.lower() == owner and rec.status == status.value:
                    check_record(config, rec, "open orders")
                    found[rec.order_hash] = rec
                    read += 1
        except ListingTooLong:  # (the pages read are counted: the figures are bounds)
            cut.append((status.value, read))
        stale = stale or client.chain_status
    client.chain_status = stale
    return found, cut


def cut_note(cut: Cut) -> str:
    """What is said when some open orders were not read: the web page's words (app.js
    ``cutNote``); "" when all were."""
    if not cut:
        return ""
    more = ", ".join(f"{read} {status}" for status, read in cut)
    return (
        f"the node lists more than {more} orders of this wallet (only those were read): in "
        "open orders at least, and free at most, what is shown"
    )


def held_in(orders: dict[str, OrderRecord], token: str) -> int:
    """What ``orders`` still offer of ``token`` (their ``remainingMakerAmount``, at most
    their amount; the amount itself when the node leaves it out, as the page counts)."""
    total = 0
    for rec in orders.values():
        o = rec.order
        if o.maker_token.lower() != token:
            continue
        if "remainingMakerAmount" in rec.meta_data:
            total += min(meta_uint(rec.meta_data, "remainingMakerAmount"), o.maker_amount)
        else:
            total += o.maker_amount
    return total


def _funds(
    sym: str, address: str, decimals: int, read: Read, mine: dict[str, OrderRecord]
) -> TokenFunds:
    held = held_in(mine, address)
    if isinstance(read, str):
        return TokenFunds(sym, address, decimals, 0, 0, held, unread=read)
    return TokenFunds(sym, address, decimals, *read, held)


def market_tokens(m: Market) -> dict[str, TokenInfo]:
    """A market's two tokens by symbol, base first."""
    return {m.base: m.base_token, m.quote: m.quote_token}


def tokens_shown(config: OrderConfig, pair: str | None) -> dict[str, TokenInfo]:
    """The tokens to read by symbol: ``pair``'s two, else every listed token."""
    if pair is not None:
        return market_tokens(pair_market(config, pair))
    if len(config.tokens) > MAX_TOKENS:
        raise click.UsageError(
            f"the node lists {len(config.tokens)} tokens: name one market with --pair BASE/QUOTE"
        )
    return dict(config.tokens)


@dataclass(frozen=True, slots=True)
class Funds:
    """What ``read_funds`` read: the block, each token's figures, the wallet's open orders
    counted, and the open statuses not read to their end (``Cut``)."""

    head: int
    tokens: list[TokenFunds]
    open_orders: int
    cut: Cut

    @property
    def complete(self) -> bool:
        """Every figure read: no token unreadable, every open order counted."""
        return not self.cut and not any(f.unread for f in self.tokens)


def read_funds(
    client: NodeClient,
    config: OrderConfig,
    owner: str,
    tokens: dict[str, TokenInfo],
    rpc: str | None,
    deployment_path: Path,
) -> Funds:
    """``owner``'s funds in ``tokens``: its open orders from the node, then its balances and
    allowances from the node's chain (``--rpc``, else the deployment file's), at one block.
    ``sdex balance`` and the console's ``balance`` say the same figures. ``ListingDiffers``
    if a token read there answers other ``decimals()`` or ``symbol()`` than the node lists
    (its figures would be shown in the node's units: wallet78)."""
    mine, cut = open_orders(client, config, owner)
    addresses = {sym: t.address.lower() for sym, t in tokens.items()}
    with node_chain(config, rpc, deployment_path) as chain:
        head, read = read_chain(chain, config.exchange, owner, addresses)
        readable = {sym: t for sym, t in tokens.items() if not isinstance(read[sym], str)}
        check_tokens_on_chain(chain, readable, SHOW)
    funds = [_funds(sym, addresses[sym], t.decimals, read[sym], mine) for sym, t in tokens.items()]
    return Funds(head, funds, len(mine), cut)


def say_funds(
    out: Console, client: NodeClient, owner: str, config: OrderConfig, got: Funds
) -> None:
    """The table and its notes, after a warning when the node's view of its chain is not
    current (what it says its open orders hold is then as it last read)."""
    stale_warning(out, client.chain_status, "its open orders are")
    show_funds(
        out, owner, client.base_url, got.head, got.tokens, config.exchange, cut_note(got.cut)
    )


def _owner(key: bytes | None, address: str | None) -> str:
    if address is not None:
        return address
    if key is None:
        raise click.UsageError(
            "say whose funds: --key HEX (or $SDEX_KEY) or --address 0x<wallet address>"
        )
    return address_of(key).lower()


def _checked_address(text: str) -> str:
    try:
        return parse_address(text, "--address").lower()
    except OrderParseError as e:
        why = (
            e.errors[0].reason if "checksum" in str(e) else "--address must be 0x and 40 hex digits"
        )
        raise WalletInputError(f"{why} (as `sdex order` says `signed by`), got {text!r}") from None


def show_funds(
    out: Console,
    owner: str,
    node: str,
    head: int,
    funds: list[TokenFunds],
    exchange: str,
    note: str = "",
) -> None:
    """The table, and what is said under it; ``note`` (``cut_note``): some open orders were
    not read, so what they hold is at least, and what is free at most, the figures."""
    least, most = ("at least ", "at most ") if note else ("", "")
    table = Table(title=f"funds of {to_checksum(owner)} at block {head}", title_justify="left")
    table.add_column("token")
    for name in ("in the wallet", "approved", "in open orders", "free for orders"):
        table.add_column(name, justify="right")
    for f in funds:
        if f.unread:
            held = least + fmt_amount(f.held, f.decimals)
            table.add_row(escape(f.symbol), "unreadable", "?", held, "?")
            continue
        approved = "unlimited" if f.allowance >= UNLIMITED else fmt_amount(f.allowance, f.decimals)
        table.add_row(
            escape(f.symbol),
            fmt_amount(f.balance, f.decimals),
            approved,
            least + fmt_amount(f.held, f.decimals),
            most + fmt_amount(f.free, f.decimals),
        )
    out.print(table)
    out.print(
        "approved: what the wallet lets the Exchange take; in open orders: what its open "
        f"orders at {escape(node)} still offer; free: the smaller of the first two, less that"
    )
    if note:
        out.print(escape(note), style="red")
    for f in funds:
        if f.unread:
            out.print(f"{escape(f.symbol)}: not read: {escape(f.unread)}", style="red")
        elif f.allowance == 0:
            out.print(
                f"{escape(f.symbol)}: nothing approved: approve the Exchange "
                f"{to_checksum(exchange)} to spend {escape(f.symbol)} to sell it"
            )


@click.command("balance")
@node_option
@click.option(
    "--key", callback=converter(parse_key), default=None, metavar="HEX", envvar="SDEX_KEY",
    show_envvar=True, help="The wallet's private key (hex), for its address; nothing is signed.",
)  # fmt: skip
@click.option(
    "--address", callback=converter(_checked_address), default=None, metavar="0x…",
    help="The wallet's address instead of its key.",
)  # fmt: skip
@click.option(
    "--pair", default=None, metavar="BASE/QUOTE", callback=converter(checked_pair),
    help="Only this market's two tokens [default: every token the node lists].",
)  # fmt: skip
@rpc_option("JSON-RPC endpoint of the node's chain [default: the deployment file's rpc].")
@deployment_option(
    "Deployment file: the node's chain id, Exchange and token addresses and decimals are checked "
    "against it (when it is there); read for its rpc when --rpc is not given."
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (base units).")
def balance(
    node_url: str,
    key: bytes | None,
    address: str | None,
    pair: str | None,
    rpc: str | None,
    deployment_path: Path,
    as_json: bool,
) -> None:
    """Show a wallet's funds per token: held, approved to the Exchange, in its open orders at
    the node, and free for new orders (as the web page's funds line)."""
    owner = _owner(key, address)
    out = stdout_console()
    with one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        shown = tokens_shown(config, pair)
        market = pair_market(config, pair) if pair is not None else None
        check_file(config, Trusted.from_options(rpc, deployment_path), market, SHOW)
        got = read_funds(client, config, owner, shown, rpc, deployment_path)
        if as_json:
            body = {
                "address": owner,
                "chainId": config.chain_id,
                "block": got.head,
                "node": node_url,
                "openOrders": got.open_orders,
                "nodeChainStatus": client.chain_status or "ok",  # (not ok: as last read)
                "tokens": {f.symbol: f.to_json() for f in got.tokens},
            }
            if got.cut:  # ("held" at least, "free" at most: said, and exit 1)
                body["openOrdersNotAllRead"] = cut_note(got.cut)
            click.echo(json.dumps(body, indent=2))
        else:
            say_funds(out, client, owner, config, got)
    if not got.complete:  # (a script reading the figures must not miss it)
        raise click.exceptions.Exit(1)
