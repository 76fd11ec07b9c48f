"""The ``sdex`` command line (PRODUCT.md section 4).

``devnet`` and ``demo`` run a local chain; ``node`` runs a relayer; ``order``, ``book`` and
``cancel`` are a wallet talking to a node's HTTP API through ``sdex.client``, and ``console``
(``sdex.console``) is the same wallet as a prompt, sharing their rendering. A wallet command
that fails shows one red line and exits 1; bad arguments are click usage errors (exit 2).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import click
import requests
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sdex.client import (
    TIME_IN_FORCE,
    NodeClient,
    NodeProtocolError,
    OrderConfig,
    OrderRecord,
    Page,
    PostedOrder,
    describe_request_error,
)
from sdex.deployment import DEFAULT_PATH, Deployment, DeploymentError
from sdex.errors import ChainError, ContractRevert, SdexError
from sdex.order import SignedOrder, address_of
from sdex.sim.cli import simulate
from sdex.wallet import (
    DEFAULT_EXPIRY,
    DEFAULT_PAIR,
    Market,
    Side,
    WalletInputError,
    fmt_amount,
    fmt_price,
    parse_decimal,
    parse_key,
    parse_order_hash,
    parse_pair,
    sign_cancel,
    sign_limit_order,
    split_pair,
)

T = TypeVar("T")
LOG_LEVELS = ("debug", "info", "warning", "error")


@click.group()
@click.version_option(package_name="sdex", message="sdex %(version)s")
def main() -> None:
    """SDEX: a blockchain-settled relayer network for ERC-20 limit orders.

    \b
    A local network, as in the README:
      sdex devnet --port 8545
      sdex node --port 8001 --key 0x<operator key>
      sdex node --port 8002 --key 0x<other key> --peer http://127.0.0.1:8001
      sdex order buy 2000.5 1.5 --node http://127.0.0.1:8001 --key 0x<wallet key>
    """


@main.command()
@click.option("--port", default=8545, show_default=True, help="JSON-RPC port of the chain.")
@click.option(
    "--deployment",
    "deployment_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
    help="Where to write the deployment file.",
)
@click.option(
    "--engine", type=click.Choice(["hardhat", "anvil"]), default="hardhat", show_default=True,
    help="The local chain: Hardhat, or anvil (faster; from the npm package @foundry-rs/anvil).",
)  # fmt: skip
def devnet(port: int, deployment_path: Path, engine: str) -> None:
    """Start a local chain, deploy the Exchange, WETH and USDC, fund the dev accounts."""
    from sdex.devnet import Devnet
    from sdex.errors import DevnetError

    console = Console()
    net = Devnet(
        port=port,
        deployment_path=deployment_path,
        log_path=deployment_path.with_suffix(".log"),
        engine="anvil" if engine == "anvil" else "hardhat",
    )
    try:
        with console.status(f"starting {engine} on 127.0.0.1:{port} and deploying"):
            d = net.start()
    except DevnetError as e:
        console.print(f"[red]{escape(str(e))}[/]")
        sys.exit(1)
    try:
        console.print(f"[bold]SDEX devnet[/] chain {d.chain_id} at {d.rpc}")
        console.print(f"Exchange {d.exchange} (deployed in block {d.deploy_block})")
        for sym, t in d.tokens.items():
            console.print(f"{sym:5} {t.address} ({t.decimals} decimals)")
        console.print(
            f"{len(d.accounts)} dev accounts funded and approved; deployment: {deployment_path}"
        )
        console.print("running until interrupted (Ctrl-C)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(1.0):
                if net.node.proc is not None and net.node.proc.poll() is not None:
                    console.print(f"[red]the {engine} node exited[/]")
                    sys.exit(1)
        except KeyboardInterrupt:
            pass
    finally:
        net.stop()


@main.command()
@click.option(
    "--log-dir", type=click.Path(path_type=Path), default=Path(".sdex/demo"), show_default=True,
    help="Where the demo leaves its deployment file, node and Hardhat logs, and demo.log.",
)  # fmt: skip
@click.option(
    "--keep", is_flag=True, default=False,
    help="Keep the devnet and nodes up after the story (open their web pages) until Ctrl-C.",
)  # fmt: skip
def demo(log_dir: Path, keep: bool) -> None:
    """Run the devnet demo end to end and print what happens."""
    from sdex.demo import run_demo

    sys.exit(run_demo(Console(record=True), log_dir, keep=keep))


# -- wallet commands (a client of a node's HTTP API) ------------------------------------------


def _converter(
    parse: Callable[[str], T],
) -> Callable[[click.Context, click.Parameter, object], T | None]:
    """A click callback that parses an argument with ``parse`` (a ``WalletInputError`` becomes
    a usage error naming the parameter); ``None`` (an unset option) passes through."""

    def callback(ctx: click.Context, param: click.Parameter, value: object) -> T | None:
        if value is None:
            return None
        try:
            return parse(str(value))
        except WalletInputError as e:
            raise click.BadParameter(str(e), ctx, param) from None

    return callback


def _decimal(name: str) -> Callable[[str], Fraction]:
    return lambda text: parse_decimal(text, name)


def _checked_pair(text: str) -> str:
    """The pair as typed, once it has the BASE/QUOTE form (the node says which it lists)."""
    split_pair(text)
    return text


_node_option = click.option(
    "--node", "node_url", required=True, metavar="URL",
    help="The node's HTTP API, e.g. http://127.0.0.1:8001.",
)  # fmt: skip
_key_option = click.option(
    "--key", required=True, callback=_converter(parse_key), metavar="HEX", envvar="SDEX_KEY",
    show_envvar=True, help="The wallet's private key (hex); also read from $SDEX_KEY.",
)  # fmt: skip
_pair_option = click.option(
    "--pair", default=DEFAULT_PAIR, show_default=True, metavar="BASE/QUOTE",
    callback=_converter(_checked_pair),
    help="The market: prices are QUOTE per BASE, amounts are in BASE.",
)  # fmt: skip


def _stdout() -> Console:
    # soft_wrap: long lines (hashes, addresses) are left whole for the terminal to wrap, so
    # they copy and paste intact; tables still fit the width.
    return Console(highlight=False, soft_wrap=True)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    """Show an expected failure (node refused or unreachable, chain error) as one red line
    on stderr and exit 1, without a traceback; a deployment file that cannot be used the
    same way with exit 2 (bad input, as click's usage errors)."""
    try:
        yield
    except DeploymentError as e:
        print_error(_stderr(), e)
        raise click.exceptions.Exit(2) from None
    except (SdexError, OSError) as e:  # requests' errors are OSErrors too
        print_error(_stderr(), e)
        raise click.exceptions.Exit(1) from None


def print_error(err: Console, e: BaseException) -> None:
    """An expected failure as one red line (the wallet commands, the console)."""
    err.print(f"[bold red]error:[/] {escape(_short_error(e))}")


def _short_error(e: BaseException) -> str:
    """An error's message without urllib3's connection-pool noise."""
    if isinstance(e, requests.RequestException):
        return describe_request_error(e)
    return str(e) or type(e).__name__


def _market(config: OrderConfig, pair: str) -> Market:
    try:
        return parse_pair(pair, config)
    except WalletInputError as e:
        raise click.BadParameter(str(e), param_hint="'--pair'") from None


@main.command()
@click.argument("side", type=click.Choice([s.value for s in Side], case_sensitive=False))
@click.argument("price", callback=_converter(_decimal("PRICE")))
@click.argument("amount", callback=_converter(_decimal("AMOUNT")))
@_pair_option
@_node_option
@_key_option
@click.option(
    "--tif", type=click.Choice(TIME_IN_FORCE, case_sensitive=False), default="gtc",
    show_default=True,
    help="gtc: rest in the book; ioc: fill what crosses now, drop the rest; fok: all or nothing.",
)  # fmt: skip
@click.option(
    "--expiry", "expiry_seconds", type=click.IntRange(min=1), default=DEFAULT_EXPIRY,
    show_default=True, metavar="SECONDS", help="The order expires this many seconds from now.",
)  # fmt: skip
def order(
    side: str,
    price: Fraction,
    amount: Fraction,
    pair: str,
    node_url: str,
    key: bytes,
    tif: str,
    expiry_seconds: int,
) -> None:
    """Sign a limit order to buy or sell AMOUNT of the base token at PRICE and post it.

    PRICE is the limit in quote per base (a buy pays at most it, a sell gets at least it);
    both are plain decimals in human units, e.g. `sdex order buy 2000.5 1.5 --pair WETH/USDC`.
    """
    out = _stdout()
    wanted = Side(side.lower())
    with _one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        market = _market(config, pair)
        try:
            place_order(
                out, client, config, market, wanted, price, amount, key,
                tif=tif.lower(), expiry_seconds=expiry_seconds,
            )  # fmt: skip
        except WalletInputError as e:
            raise click.UsageError(str(e)) from None


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
) -> PostedOrder:
    """Sign a limit order, show it, post it and show the node's answer (``sdex order``, the
    console's ``send_order``). ``WalletInputError``, before anything is sent, if the numbers
    make no valid order."""
    signed = sign_limit_order(config, m, side, price, amount, key, expiry_seconds=expiry_seconds)
    _print_signed(out, m, side, price, signed, config)
    posted = client.post_order(signed, tif)
    _print_posted(out, m, side, signed, posted)
    return posted


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
        f"fee {fmt_amount(o.fee_amount, fee_dec)} {fee_token} to {o.fee_recipient} "
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
    expires = datetime.fromtimestamp(o.expiry, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    out.print(f"signed by {o.maker}; expires {expires} (unix {o.expiry})")


_OUTCOME_WORDS = {
    "dropped": "the unmatched rest was dropped (ioc)",
    "killed": "killed (fok): it could not be matched in full now; nothing traded",
    "expired": "expired: it was not matched",
}


def posted_summary(posted: PostedOrder) -> str:
    """What happened to a posted order, in words, then the node's status and outcome.

    The status counts only fills confirmed on chain, so a taker matched in full reads
    ``partially_filled`` until its settlement is mined: say so, not just the two words."""
    raw = f"status {escape(posted.status)}" + (
        f", outcome {escape(posted.outcome)}" if posted.outcome else ""
    )
    pending = _meta_int(posted, "pendingMakerAmount")
    matched = bool(posted.matches)
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
    if matched and pending and posted.outcome != "filled":
        words += "; settlement pending on chain"
    return f"[bold]{words}[/] ({raw})" if words else raw


def _meta_int(posted: PostedOrder, name: str) -> int:
    """A uint256 amount of the answer's metaData; 0 when absent or not one."""
    raw = posted.meta_data.get(name)
    if not isinstance(raw, str) or len(raw) > 78 or not (raw.isascii() and raw.isdigit()):
        return 0
    return int(raw)


def resting_dust(signed: SignedOrder, posted: PostedOrder) -> int:
    """The maker amount left resting when it is worth less than one unit of the taker token
    at the order's own price (no taker can fill it at that price), else 0."""
    if posted.outcome != "rested" or "remainingMakerAmount" not in posted.meta_data:
        return 0
    o = signed.order
    left = _meta_int(posted, "remainingMakerAmount") - _meta_int(posted, "pendingMakerAmount")
    return left if left > 0 and left * o.taker_amount < o.maker_amount else 0


def _print_posted(
    out: Console, m: Market, side: Side, signed: SignedOrder, posted: PostedOrder
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
    if not posted.matches:
        return
    table = Table(title=f"matches ({len(posted.matches)}), settling on chain")
    table.add_column("resting order", overflow="fold")
    table.add_column(f"{m.base}", justify="right")
    table.add_column(f"{m.quote}", justify="right")
    table.add_column(f"price ({m.quote}/{m.base})", justify="right")
    total_base = total_quote = 0
    for x in posted.matches:
        # The posted order is the incoming one: it gives its maker token, the resting one
        # gives the other token.
        mine, theirs = x.incoming_maker_amount, x.resting_maker_amount
        base, quote = (theirs, mine) if side is Side.BUY else (mine, theirs)
        total_base, total_quote = total_base + base, total_quote + quote
        price = fmt_price(m.price(base, quote)) if base else "-"
        table.add_row(
            escape(x.resting_order_hash), fmt_amount(base, b), fmt_amount(quote, q), price
        )
    out.print(table)
    verb = "bought" if side is Side.BUY else "sold"
    out.print(
        f"{verb} {fmt_amount(total_base, b)} {m.base} for {fmt_amount(total_quote, q)} "
        f"{m.quote} once settled on chain (GET /v1/orders/{escape(posted.order_hash)})"
    )


@main.command()
@_node_option
@_pair_option
@click.option(
    "--depth", type=click.IntRange(1, 1000), default=20, show_default=True,
    help="How many orders to show on each side.",
)  # fmt: skip
def book(node_url: str, pair: str, depth: int) -> None:
    """Show a node's order book for a pair: bids and asks, best first."""
    out = _stdout()
    with _one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        show_book(out, client, config, _market(config, pair), depth)


def show_book(out: Console, client: NodeClient, config: OrderConfig, m: Market, depth: int) -> None:
    """Fetch a node's book for a market and show it, asks above bids (``sdex book``, the
    console's ``book``)."""
    ob = client.orderbook(m.base_token.address, m.quote_token.address, per_page=depth)
    out.print(_book_table(config, m, "asks", Side.SELL, ob.asks))
    out.print(_book_table(config, m, "bids", Side.BUY, ob.bids))


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


def _book_table(config: OrderConfig, m: Market, title: str, side: Side, page: Page) -> Table:
    rows = book_rows(config, m, title, side, page)
    shown = f"{len(rows)} of {page.total}" if page.total > len(rows) else str(len(rows))
    table = Table(title=f"{m.name} {title} ({shown})", title_justify="left")
    table.add_column(f"price ({m.quote})", justify="right")
    table.add_column(f"amount ({m.base})", justify="right")
    table.add_column(f"total ({m.quote})", justify="right")
    table.add_column("order", overflow="fold")
    b, q = m.base_token.decimals, m.quote_token.decimals
    for price, rec in rows:
        base, quote = remaining_amounts(m, side, rec)
        table.add_row(fmt_price(price), fmt_price(base, b), fmt_price(quote, q), rec.order_hash)
    return table


@main.command()
@click.argument("order_hash", metavar="HASH", callback=_converter(parse_order_hash))
@_node_option
@_key_option
@click.option(
    "--onchain", is_flag=True,
    help="Also cancel on chain (Exchange.cancelOrder, permanent; costs gas).",
)  # fmt: skip
@click.option(
    "--rpc", metavar="URL", default=None,
    help="JSON-RPC endpoint for --onchain [default: the deployment file's rpc].",
)  # fmt: skip
@click.option(
    "--deployment", "deployment_path", type=click.Path(path_type=Path), default=DEFAULT_PATH,
    show_default=True, help="Deployment file, read for --onchain when --rpc is not given.",
)  # fmt: skip
def cancel(
    order_hash: bytes,
    node_url: str,
    key: bytes,
    onchain: bool,
    rpc: str | None,
    deployment_path: Path,
) -> None:
    """Cancel one of your orders: a signed soft cancel at the node, and with --onchain also
    on chain (the only cancel no node can ignore)."""
    out = _stdout()
    with _one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        if onchain:
            _cancel_onchain(out, client, config, order_hash, key, rpc, deployment_path)
        soft_cancel(out, client, config, order_hash, key)


def soft_cancel(
    out: Console, client: NodeClient, config: OrderConfig, order_hash: bytes, key: bytes
) -> str:
    """Sign a soft cancel, send it and show the order's new status (``sdex cancel``, the
    console's ``cancel``)."""
    hash_hex = "0x" + order_hash.hex()
    status = client.cancel_order(hash_hex, sign_cancel(config.domain, order_hash, key))
    shown = escape(status)
    out.print(f"order [bold]{hash_hex}[/] soft-cancelled at the node: status [bold]{shown}[/]")
    return status


def _cancel_onchain(
    out: Console,
    client: NodeClient,
    config: OrderConfig,
    order_hash: bytes,
    key: bytes,
    rpc_url: str | None,
    deployment_path: Path,
) -> None:
    """``Exchange.cancelOrder`` for the order the node holds under ``order_hash``."""
    from sdex.chain import Exchange, OrderStatus, Rpc, Sender

    rec = client.get_order("0x" + order_hash.hex())
    if config.domain.order_hash(rec.order) != order_hash:
        raise NodeProtocolError("the node returned an order whose hash is not the one asked for")
    me = address_of(key)
    if rec.order.maker != me:
        raise click.BadParameter(
            f"only the order's maker {rec.order.maker} can cancel it on chain; this key is {me}",
            param_hint="'--key'",
        )
    if rpc_url is None:
        rpc_url = Deployment.load(deployment_path).rpc
    rpc = Rpc(rpc_url)
    try:
        exchange = Exchange(rpc, config.exchange)
        try:
            domain = exchange.domain()
        except ContractRevert:
            domain = None
        if domain != config.domain:
            raise ChainError(
                f"the chain at {rpc_url} is not the node's (chain {config.chain_id}, "
                f"exchange {config.exchange})"
            )
        status = exchange.order_info(rec.order).status
        if status is not OrderStatus.FILLABLE:
            # Cancelled, filled or expired: it can no longer trade, and the contract would
            # only take the gas of a second cancel (or revert it).
            out.print(
                f"order [bold]0x{order_hash.hex()}[/] is already {status.name.lower()} on "
                "chain: no transaction sent"
            )
            return
        receipt = exchange.cancel_order(Sender(rpc, key, config.chain_id), rec.order)
    except requests.RequestException as e:
        raise ChainError(f"cannot reach the JSON-RPC endpoint {rpc_url}: {_short_error(e)}") from e
    finally:
        rpc.close()
    out.print(
        f"order [bold]0x{order_hash.hex()}[/] cancelled on chain in tx {receipt.tx_hash} "
        f"(block {receipt.block_number})"
    )


@main.command("console")
@_node_option
@_key_option
@_pair_option
@click.option(
    "--slippage", "slippage_bps", type=click.IntRange(0, 9999), default=100, show_default=True,
    metavar="BPS", help="A market order's bound: the best opposite price moved by BPS.",
)  # fmt: skip
def console_command(node_url: str, key: bytes, pair: str, slippage_bps: int) -> None:
    """The seed's prompt as a client of a node: send_order, get_dump, cancel, book, fills.

    E.g. `send_order buy limit 10 10`, `send_order sell market 5 50` (at most 50 bps below
    the best bid); `help` lists the commands. It only talks to the node's HTTP API."""
    from sdex.console import run_console

    sys.exit(run_console(node_url, key, pair, slippage_bps, out=_stdout(), err=_stderr()))


# -- the relayer node -------------------------------------------------------------------------


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="HTTP port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--peer", "peers", multiple=True, metavar="URL", help="A peer node's URL (repeatable).",
)  # fmt: skip
@click.option(
    "--rpc", metavar="URL", default=None,
    help="JSON-RPC endpoint [default: the deployment file's rpc].",
)  # fmt: skip
@click.option(
    "--deployment", "deployment_path", type=click.Path(path_type=Path), default=DEFAULT_PATH,
    show_default=True, help="The deployment file (Exchange, tokens, dev accounts).",
)  # fmt: skip
@click.option(
    "--key", callback=_converter(parse_key), default=None, metavar="HEX", envvar="SDEX_NODE_KEY",
    show_envvar=True,
    help="The operator's private key (hex), required; also read from $SDEX_NODE_KEY. It signs "
    "and pays for the settlements: each node needs its own.",
)  # fmt: skip
@click.option(
    "--db", type=click.Path(path_type=Path), default=None,
    help="SQLite database [default: beside the deployment file, one per port].",
)  # fmt: skip
@click.option(
    "--fee-bps", type=click.IntRange(0, 10_000), default=0, show_default=True,
    help="Fee asked of wallets' orders, in basis points of the taker amount.",
)  # fmt: skip
@click.option(
    "--admin", is_flag=True, default=False,
    help="Serve /admin/links (loopback clients only) to cut and restore gossip links.",
)  # fmt: skip
@click.option(
    "--node-key", type=click.Path(path_type=Path), default=None, metavar="PATH",
    help="Gossip identity key file (peers know this node by it) [default: beside the db, "
    "created when absent].",
)  # fmt: skip
@click.option(
    "--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="info",
    show_default=True,
    help="The node's log on stderr, one flushed line per event: debug adds one line per "
    "accepted order; info has matches, settlements and state changes.",
)  # fmt: skip
@click.option(
    "--dev-wallets", is_flag=True, default=False,
    help="Devnet only: serve the deployment's dev keys to the web page (loopback clients only).",
)  # fmt: skip
def node(
    port: int,
    host: str,
    peers: tuple[str, ...],
    rpc: str | None,
    deployment_path: Path,
    key: bytes | None,
    db: Path | None,
    fee_bps: int,
    admin: bool,
    node_key: Path | None,
    log_level: str,
    dev_wallets: bool,
) -> None:
    """Run a relayer node until interrupted (SIGINT or SIGTERM).

    E.g. `sdex node --port 8001 --key 0x<operator key>` and, in another terminal,
    `sdex node --port 8002 --key 0x<other key> --peer http://127.0.0.1:8001`.
    """
    from sdex.node.main import run_node

    if key is None:
        _stderr().print(
            "[bold red]error:[/] sdex node needs an operator key: --key HEX or $SDEX_NODE_KEY. "
            "Each node needs its own (two nodes on one key fight over its nonces); the dev "
            f"accounts' keys are in {escape(str(deployment_path))}."
        )
        raise click.exceptions.Exit(2)
    with _one_line_errors():
        try:
            run_node(
                port=port,
                host=host,
                peers=list(peers),
                rpc=rpc,
                deployment=deployment_path,
                key="0x" + key.hex(),
                db=db,
                fee_bps=fee_bps,
                admin=admin,
                node_key=node_key,
                log_level=log_level.lower(),
                dev_wallets=dev_wallets,
            )
        except DeploymentError:
            raise
        except ValueError as e:  # a bad configuration
            raise click.UsageError(str(e)) from None


# -- the audit --------------------------------------------------------------------------------


@main.command()
@click.option(
    "--deployment", "deployment_path", type=click.Path(path_type=Path), default=DEFAULT_PATH,
    show_default=True, help="The deployment file: chain, Exchange and its deployment block.",
)  # fmt: skip
@click.option(
    "--rpc", metavar="URL", default=None,
    help="JSON-RPC endpoint [default: the deployment file's rpc].",
)  # fmt: skip
@click.option(
    "--node", "nodes", multiple=True, metavar="URL",
    help="A node to audit and to ask for signed orders (repeatable).",
)  # fmt: skip
@click.option(
    "--orders", "order_files", multiple=True, metavar="FILE",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="A JSON list of signed orders (or a GET /v1/orders page); repeatable.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for machines.")
@click.option(
    "--sync-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
    metavar="SECONDS",
    help="How long to wait for each node to process the chain's head; a node not there by "
    "then is flagged node_watcher_stalled.",
)  # fmt: skip
def audit(
    deployment_path: Path,
    rpc: str | None,
    nodes: tuple[str, ...],
    order_files: tuple[Path, ...],
    as_json: bool,
    sync_timeout: float,
) -> None:
    """Check every on-chain fill against its signed order (hash, signature, limit price, no
    overfill, fee), each settlement's token transfers against its fills, and each node's book
    and claimed fills against the chain; flag every fill of an order after a node reported
    it closed (removed, dropped, cancelled) and a node whose watcher lags the chain head.

    Exit status: 0 clean, 1 on any discrepancy, 2 when the audit cannot run.
    """
    import json

    from sdex.audit import OrdersFileError, audit_network, load_orders
    from sdex.order import Domain

    try:
        d = Deployment.load(deployment_path)
    except DeploymentError as e:
        print_error(_stderr(), e)
        raise click.exceptions.Exit(2) from None
    orders = []
    for path in order_files:
        try:
            orders += load_orders(path, Domain(d.chain_id, d.exchange))
        except OrdersFileError as e:
            raise click.BadParameter(str(e), param_hint="'--orders'") from None
    try:
        report = audit_network(d, nodes, rpc=rpc, orders=orders, sync_timeout=sync_timeout)
    except (SdexError, OSError) as e:  # the chain unreachable, or not the deployment's
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(f"[bold red]cannot audit:[/] {escape(_short_error(e))}")
        raise click.exceptions.Exit(2) from None
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        report.print(_stdout())
    raise click.exceptions.Exit(0 if report.ok else 1)


main.add_command(simulate)

if __name__ == "__main__":
    main()
