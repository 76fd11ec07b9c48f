"""The ``sdex`` command line (PRODUCT.md section 4).

``devnet`` and ``demo`` run a local chain (``sdex.clidevnet``); ``node`` runs a relayer;
``order``, ``book`` and ``cancel`` are a wallet talking to a node's HTTP API through
``sdex.client``, and ``console`` (``sdex.console``) is the same wallet as a prompt, sharing
their rendering. A wallet command that fails shows one red line and exits 1; bad arguments
are click usage errors (exit 2); one whose output's reader stopped early ends quietly with 141
(``sdex.clipipe``).
"""

from __future__ import annotations

import importlib
import sys
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from sdex.client import (
    TIME_IN_FORCE,
    NodeClient,
)
from sdex.cliopts import (
    DecimalArgsCommand,
    check_new_file_dirs,
    converter,
    decimal_arg,
    deployment_option,
    host_callback,
    key_option,
    max_fee_option,
    node_limit_options,
    node_option,
    node_url_check,
    one_line_errors,
    pair_market,
    pair_option,
    parse_depth,
    parse_expiry,
    rpc_option,
    wait_option,
)
from sdex.clipipe import closed_output_ends_quietly, end_quietly
from sdex.clirange import FloatBetween, IntBetween
from sdex.deployment import (
    Deployment,
    DeploymentError,
    traded_account,
)
from sdex.wallet import (
    DEFAULT_EXPIRY,
    Side,
    WalletInputError,
    parse_key,
    parse_order_hash,
)

if TYPE_CHECKING:
    from sdex.wallettrust import Trusted

LOG_LEVELS = ("debug", "info", "warning", "error")


class _LazyGroup(click.Group):
    """Commands whose modules load only when run or listed: ``sdex.audit`` and ``sdex.sim``
    pull in their whole packages (~0.2 s of CPU), which ``sdex node`` and each wallet
    command would otherwise pay at every start."""

    LAZY: ClassVar[dict[str, tuple[str, str]]] = {
        "audit": ("sdex.audit.cli", "audit"),
        "balance": ("sdex.walletfunds", "balance"),
        "demo": ("sdex.clidevnet", "demo"),
        "devnet": ("sdex.clidevnet", "devnet"),
        "repost": ("sdex.walletrepost", "repost"),
        "simulate": ("sdex.sim.cli", "simulate"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY:
            module, name = self.LAZY[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), name)
            return command
        return super().get_command(ctx, cmd_name)

    SERVERS: ClassVar[frozenset[str]] = frozenset({"node"})
    """Commands whose stdout is a log, not output read by a pipe's reader: they keep click's
    own ending on a broken pipe (exit 1)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with closed_output_ends_quietly():  # (``sdex --help | head -1``)
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        """The command, a broken pipe of its output ending it quietly (``sdex.clipipe``)."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            if ctx.invoked_subcommand in self.SERVERS:
                raise
            end_quietly()


@click.group(cls=_LazyGroup)
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


MAX_REFUSED_SAID = 8
"""Refused tokens said a line each at most (``warn_deployment``); the rest counted."""


def warn_deployment(deployment_path: Path, key: bytes) -> None:
    """Warnings, not refusals, about the node's deployment file; an unreadable file is left to
    the node to report. The operator key is a dev account wallets trade with (ux49: an
    operator may mean it). Tokens whose symbols no wallet can use (``Deployment.refused``)
    are left out, each said: the node lists the others (wallet74: one stopped the node)."""
    try:
        d = Deployment.load(deployment_path)
    except DeploymentError:
        return
    traded = traded_account(d.accounts, key)
    if traded is None and not d.refused:
        return
    from rich.markup import escape

    from sdex.walletout import stderr_console

    if traded is not None:
        stderr_console().print(
            "[yellow]warning:[/] the operator key (--key) is the dev account "
            f"{escape(traded)}, which wallets trade with: the node's settlements and that "
            "wallet's own transactions share one account and its nonces; give the node a key "
            "nobody trades with (`sdex devnet` prints the last two accounts' keys for that)"
        )
    for line in d.refused[:MAX_REFUSED_SAID]:
        stderr_console().print(
            f"[yellow]warning:[/] {escape(str(deployment_path))}: {escape(line)}: left "
            f"out by this node, with their pairs; it lists {escape(', '.join(d.tokens))}"
        )
    if len(d.refused) > MAX_REFUSED_SAID:
        stderr_console().print(
            f"[yellow]warning:[/] and {len(d.refused) - MAX_REFUSED_SAID} more such tokens "
            "not listed"
        )


# -- wallet commands (a client of a node's HTTP API) ------------------------------------------

TRUST_RPC_HELP = (
    "JSON-RPC endpoint of the node's chain: before signing, its chain id, Exchange and the "
    "market's tokens' decimals and symbols are checked there against the node's order_config."
)
TRUST_DEPLOYMENT_HELP = (
    "Deployment file of the node's network: before signing, the node's chain id, Exchange and "
    "token addresses and decimals are checked against it (when it is there)."
)


def trusted(rpc: str | None, deployment_path: Path) -> Trusted:
    """The sources a wallet command checks its node's listing against (``sdex.wallettrust``)."""
    from sdex.wallettrust import Trusted

    return Trusted.from_options(rpc, deployment_path)


@main.command(cls=DecimalArgsCommand)
@click.argument("side", type=click.Choice([s.value for s in Side], case_sensitive=False))
@click.argument("price", callback=converter(decimal_arg("PRICE")))
@click.argument("amount", callback=converter(decimal_arg("AMOUNT")))
@pair_option
@node_option
@key_option
@click.option(
    "--tif", type=click.Choice(TIME_IN_FORCE, case_sensitive=False), default="gtc",
    show_default=True,
    help="gtc: rest in the book; ioc: fill what crosses now, drop the rest; fok: all or nothing.",
)  # fmt: skip
@click.option(
    "--expiry", "expiry_seconds", type=str, callback=converter(parse_expiry),
    default=str(DEFAULT_EXPIRY), show_default=True, metavar="SECONDS",
    help="The order expires this many seconds from now (whole seconds, e.g. 3600).",
)  # fmt: skip
@wait_option
@max_fee_option
@rpc_option(TRUST_RPC_HELP)
@deployment_option(TRUST_DEPLOYMENT_HELP)
def order(
    side: str,
    price: Fraction,
    amount: Fraction,
    pair: str,
    node_url: str,
    key: bytes,
    tif: str,
    expiry_seconds: int,
    settle_wait: float,
    max_fee_bps: int,
    rpc: str | None,
    deployment_path: Path,
) -> None:
    """Sign a limit order to buy or sell AMOUNT of the base token at PRICE and post it.

    PRICE is the limit in quote per base (a buy pays at most it, a sell gets at least it);
    both are plain decimals in human units, e.g. `sdex order buy 2000.5 1.5 --pair WETH/USDC`.
    """
    from sdex.walletout import stderr_console, stdout_console
    from sdex.wallettrust import check_listing
    from sdex.walletui import place_order

    out = stdout_console()
    wanted = Side(side.lower())
    with one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        market = pair_market(config, pair)
        check_listing(config, trusted(rpc, deployment_path), stderr_console(), market)
        try:
            place_order(
                out, client, config, market, wanted, price, amount, key,
                tif=tif.lower(), expiry_seconds=expiry_seconds, settle_wait=settle_wait,
                max_fee_bps=max_fee_bps,
            )  # fmt: skip
        except WalletInputError as e:
            raise click.UsageError(str(e)) from None


@main.command()
@node_option
@pair_option
@click.option(
    "--depth", type=str, default="20", show_default=True, metavar="N",
    callback=converter(parse_depth), help="How many orders to show on each side, 1 to 1000.",
)  # fmt: skip
@rpc_option(
    "JSON-RPC endpoint of the node's chain: its chain id, Exchange and the market's tokens' "
    "decimals and symbols are checked there before the book's amounts are shown."
)
@deployment_option(
    "Deployment file of the node's network: the node's chain id, Exchange and token addresses "
    "and decimals are checked against it (when it is there) before the book's amounts are shown."
)
def book(node_url: str, pair: str, depth: int, rpc: str | None, deployment_path: Path) -> None:
    """Show a node's order book for a pair: bids and asks, best first."""
    from sdex.walletbook import show_book
    from sdex.walletout import stderr_console, stdout_console
    from sdex.wallettrust import SHOW, check_listing

    out = stdout_console()
    with one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        market = pair_market(config, pair)
        sources = trusted(rpc, deployment_path)
        check_listing(config, sources, stderr_console(), market, purpose=SHOW)
        show_book(out, client, config, market, depth)


@main.command()
@click.argument("order_hash", metavar="HASH", callback=converter(parse_order_hash))
@node_option
@key_option
@click.option(
    "--onchain", is_flag=True,
    help="Also cancel on chain (Exchange.cancelOrder, permanent; costs gas).",
)  # fmt: skip
@rpc_option(
    "JSON-RPC endpoint of the node's chain: the node's chain id and Exchange are checked "
    "there before anything is signed; --onchain sends to it [default: the deployment file's rpc]."
)
@deployment_option(
    "Deployment file: the node's chain id and Exchange are checked against it (when it is there) "
    "before anything is signed; --onchain reads its rpc when --rpc is not given."
)
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
    from sdex.walletcancel import cancel_onchain, soft_cancel
    from sdex.walletout import stderr_console, stdout_console
    from sdex.wallettrust import check_listing

    out = stdout_console()
    with one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        sources = trusted(rpc, deployment_path)
        if onchain:  # (checked there once the order is read, before anything is sent)
            cancel_onchain(out, client, config, order_hash, key, sources)
        else:
            check_listing(config, sources, stderr_console())
        soft_cancel(out, client, config, order_hash, key, onchain=onchain)


@main.command("console")
@node_option
@key_option
@pair_option
@click.option(
    "--slippage", "slippage_bps", type=IntBetween(0, 9999, "basis points"), default=100,
    show_default=True, metavar="BPS",
    help="A market order's bound: the best opposite price moved by BPS.",
)  # fmt: skip
@max_fee_option
@rpc_option(TRUST_RPC_HELP[:-1] + ", at start; balance reads it [default: the deployment "
            "file's rpc].")  # fmt: skip
@deployment_option(TRUST_DEPLOYMENT_HELP[:-1] + ", at start; balance reads its rpc when --rpc "
                   "is not given.")  # fmt: skip
def console_command(
    node_url: str, key: bytes, pair: str, slippage_bps: int, max_fee_bps: int, rpc: str | None,
    deployment_path: Path,
) -> None:  # fmt: skip
    """The seed's prompt as a client of a node: send_order, get_dump, cancel, book, fills,
    balance.

    E.g. `send_order buy limit 10 10`, `send_order sell market 5 50` (at most 50 bps below
    the best bid); `help` lists the commands. It talks to the node's HTTP API, and for
    `balance` reads the chain (--rpc, else the deployment file's rpc), as `sdex balance`."""
    from sdex.console import run_console
    from sdex.walletout import stderr_console, stdout_console

    out, err = stdout_console(), stderr_console()
    sys.exit(
        run_console(
            node_url,
            key,
            pair,
            slippage_bps,
            out=out,
            err=err,
            rpc=rpc,
            deployment_path=deployment_path,
            max_fee_bps=max_fee_bps,
        )
    )


# -- the relayer node -------------------------------------------------------------------------


@main.command()
@click.option(
    "--port", type=IntBetween(1, 65535, "a TCP port"), required=True, help="HTTP port to serve on."
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, callback=host_callback,
    help="Interface to bind.",
)  # fmt: skip
@click.option(
    "--peer", "peers", multiple=True, metavar="URL", callback=node_url_check,
    help="A peer node's URL with its port, e.g. http://127.0.0.1:8001 (repeatable).",
)  # fmt: skip
@rpc_option("JSON-RPC endpoint [default: the deployment file's rpc].")
@deployment_option("The deployment file (Exchange, tokens, dev accounts).")
@click.option(
    "--key", callback=converter(parse_key), default=None, metavar="HEX", envvar="SDEX_NODE_KEY",
    show_envvar=True,
    help="The operator's private key (hex), required; also read from $SDEX_NODE_KEY. It signs "
    "and pays for the settlements: each node needs its own.",
)  # fmt: skip
@click.option(
    "--db", type=click.Path(path_type=Path), default=None,
    help="SQLite database [default: beside the deployment file, one per port].",
)  # fmt: skip
@click.option(
    "--fee-bps", type=IntBetween(0, 10_000, "basis points"), default=0, show_default=True,
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
    "--mkdir", is_flag=True, default=False,
    help="Create the directories --db and --node-key name when missing (else refused: a "
    "typo would start a new, empty database).",
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
@click.option(
    "--gossip-scale", type=FloatBetween(0.01, 1.0), default=1.0, show_default=True,
    metavar="FACTOR",
    help="Multiplies the gossip timers' intervals (dial 0.5 s, anti-entropy 1 s, peer "
    "exchange 5 s): below 1 a small network converges sooner, at more background traffic.",
)  # fmt: skip
@click.option(
    "--min-amount", "min_amounts", multiple=True, metavar="SYMBOL=AMOUNT",
    help="The least an order may sell or ask for of a listed token, in whole tokens "
    "(repeatable; 0: none); orders below it are refused (BELOW_MINIMUM), no trade moves "
    "less, and each open order needs it in its maker's balance [default: 0.0001 of each].",
)  # fmt: skip
@node_limit_options
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
    mkdir: bool,
    log_level: str,
    dev_wallets: bool,
    gossip_scale: float,
    min_amounts: tuple[str, ...],
    **limits: Any,
) -> None:
    """Run a relayer node until interrupted (SIGINT or SIGTERM).

    E.g. `sdex node --port 8001 --key 0x<operator key>` and, in another terminal,
    `sdex node --port 8002 --key 0x<other key> --peer http://127.0.0.1:8001`.
    """
    from sdex.node.main import run_node

    if key is None:
        from rich.markup import escape

        from sdex.walletout import stderr_console

        stderr_console().print(
            "[bold red]error:[/] sdex node needs an operator key: --key HEX or $SDEX_NODE_KEY. "
            "Each node needs its own (two nodes on one key fight over its nonces); the dev "
            f"accounts' keys are in {escape(str(deployment_path))}."
        )
        raise click.exceptions.Exit(2)
    check_new_file_dirs({"--db": db, "--node-key": node_key}, create=mkdir)
    warn_deployment(deployment_path, key)
    with one_line_errors():
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
                gossip_scale=gossip_scale,
                min_amounts=min_amounts,
                **limits,
            )
        except DeploymentError:
            raise
        except ValueError as e:  # a bad configuration
            raise click.UsageError(str(e)) from None


if __name__ == "__main__":
    main()
