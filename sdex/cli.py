"""The ``sdex`` command line (PRODUCT.md section 4).

``devnet`` and ``demo`` run a local chain; ``node`` runs a relayer; ``order``, ``book`` and
``cancel`` are a wallet talking to a node's HTTP API through ``sdex.client``, and ``console``
(``sdex.console``) is the same wallet as a prompt, sharing their rendering. A wallet command
that fails shows one red line and exits 1; bad arguments are click usage errors (exit 2).
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import click
from rich.console import Console
from rich.markup import escape

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
from sdex.clirange import FloatBetween, IntBetween
from sdex.deployment import (
    DEFAULT_PATH,
    DEMO_PATH,
    Deployment,
    DeploymentError,
    DevAccount,
    traded_account,
)
from sdex.wallet import (
    DEFAULT_EXPIRY,
    Side,
    WalletInputError,
    parse_key,
    parse_order_hash,
    token_line,
)
from sdex.walletcancel import cancel_onchain, soft_cancel
from sdex.walletui import (
    place_order,
    print_error,
    show_book,
    stderr_console,
    stdout_console,
)

LOG_LEVELS = ("debug", "info", "warning", "error")


class _LazyGroup(click.Group):
    """Commands whose modules load only when run or listed: ``sdex.audit`` and ``sdex.sim``
    pull in their whole packages (~0.2 s of CPU), which ``sdex node`` and each wallet
    command would otherwise pay at every start."""

    LAZY: ClassVar[dict[str, tuple[str, str]]] = {
        "audit": ("sdex.audit.cli", "audit"),
        "balance": ("sdex.walletfunds", "balance"),
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


@main.command()
@click.option(
    "--port", type=IntBetween(1, 65535, "a TCP port"), default=8545, show_default=True,
    help="JSON-RPC port of the chain.",
)  # fmt: skip
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
@click.option(
    "--block-time", type=FloatBetween(0.001, 60.0, "seconds"), default=None, metavar="SECONDS",
    help="anvil only: mine a block every SECONDS (e.g. 0.05) instead of one a transaction, "
    "with a 200M block gas limit: transactions sent meanwhile share a block, and each "
    "receipt comes up to SECONDS later (default: a block a transaction).",
)  # fmt: skip
def devnet(port: int, deployment_path: Path, engine: str, block_time: float | None) -> None:
    """Start a local chain, deploy the Exchange, WETH and USDC, fund the dev accounts."""
    from sdex.devnet import Devnet
    from sdex.errors import DevnetError

    console = Console()
    try:
        net = Devnet(
            port=port,
            deployment_path=deployment_path,
            log_path=deployment_path.with_suffix(".log"),
            engine="anvil" if engine == "anvil" else "hardhat",
            block_time=block_time,
        )
        with console.status(f"starting {engine} on 127.0.0.1:{port} and deploying"):
            d = net.start()
    except DevnetError as e:  # (one `error:` line as every other command's; it had no prefix)
        print_error(stderr_console(), e)
        sys.exit(1)
    try:
        console.print(f"[bold]SDEX devnet[/] chain {d.chain_id} at {d.rpc}", soft_wrap=True)
        console.print(f"Exchange {d.exchange} (deployed in block {d.deploy_block})")
        for sym, t in d.tokens.items():
            for line in fit_token_line(token_line(sym, t), console.width):
                console.print(escape(line), soft_wrap=True)
        console.print(
            escape(f"{len(d.accounts)} dev accounts funded and approved; deployment: ")
            + escape(str(deployment_path)),
            soft_wrap=True,
        )
        for line in node_key_lines(d.accounts):
            console.print(escape(line), soft_wrap=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: ignored if started with &
            signal.signal(sig, lambda *_: stop.set())
        # (said once the handlers are in: a script that waits for this line, then interrupts,
        # got click's "Aborted!" and exit 1 when its signal came first)
        console.print("running until interrupted (Ctrl-C)")
        try:
            while not stop.wait(1.0):
                if net.node.proc is not None and net.node.proc.poll() is not None:
                    console.print(f"[red]the {engine} node exited[/]")
                    sys.exit(1)
        except KeyboardInterrupt:
            pass
        # (ux49: it stopped silently on SIGTERM while each node says "stopped in ...")
        began = time.monotonic()
        net.stop()
        console.print(f"stopped in {time.monotonic() - began:.3f} s")
    finally:
        net.stop()  # (again after a stop: nothing to do)


def warn_traded_key(deployment_path: Path, key: bytes) -> None:
    """A warning, not a refusal (an operator may mean it), when the node's key is a dev
    account wallets trade with (ux49); an unreadable file is left to the node to report."""
    try:
        accounts = Deployment.load(deployment_path).accounts
    except DeploymentError:
        return
    traded = traded_account(accounts, key)
    if traded is not None:
        stderr_console().print(
            "[yellow]warning:[/] the operator key (--key) is the dev account "
            f"{escape(traded)}, which wallets trade with: the node's settlements and that "
            "wallet's own transactions share one account and its nonces; give the node a key "
            "nobody trades with (`sdex devnet` prints the last two accounts' keys for that)"
        )


def node_key_lines(accounts: Sequence[DevAccount]) -> list[str]:
    """Which dev accounts' keys to give nodes as ``--key`` (the README's "last two"; user38:
    the summary did not say), each key on its own line to copy; none for fewer than four."""
    if len(accounts) < 4:
        return []
    last = len(accounts) - 2
    return [
        f"node operator keys (--key; accounts[{last}] and [{last + 1}], not traded with):",
        *(f"  --key {a.key}" for a in accounts[last:]),
    ]


def fit_token_line(line: str, width: int) -> list[str]:
    """``sdex devnet``'s token line (``WETH  0x… (18 decimals; minimum order 0.0001 WETH)``)
    on a terminal narrower than it: broken before the bracket, the bracket indented under the
    address, rather than by rich mid-bracket at the width (user31); no line is ever broken
    inside the address (to copy it)."""
    if len(line) <= width or " (" not in line:
        return [line]
    head, _, said = line.partition(" (")
    return [head, " " * 6 + "(" + said]


@main.command()
@click.option(
    "--log-dir", type=click.Path(path_type=Path), default=DEMO_PATH.parent, show_default=True,
    help="Where the demo leaves its deployment file, node and Hardhat logs, and demo.log.",
)  # fmt: skip
@click.option(
    "--keep", is_flag=True, default=False,
    help="Keep the devnet and nodes up after the story (open their web pages) until Ctrl-C.",
)  # fmt: skip
def demo(log_dir: Path, keep: bool) -> None:
    """Run the devnet demo end to end and print what happens."""
    from sdex.demorun import run_demo

    sys.exit(run_demo(Console(record=True, soft_wrap=True), log_dir, keep=keep))


# -- wallet commands (a client of a node's HTTP API) ------------------------------------------


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
) -> None:
    """Sign a limit order to buy or sell AMOUNT of the base token at PRICE and post it.

    PRICE is the limit in quote per base (a buy pays at most it, a sell gets at least it);
    both are plain decimals in human units, e.g. `sdex order buy 2000.5 1.5 --pair WETH/USDC`.
    """
    out = stdout_console()
    wanted = Side(side.lower())
    with one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        try:
            place_order(
                out, client, config, pair_market(config, pair), wanted, price, amount, key,
                tif=tif.lower(), expiry_seconds=expiry_seconds, settle_wait=settle_wait,
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
def book(node_url: str, pair: str, depth: int) -> None:
    """Show a node's order book for a pair: bids and asks, best first."""
    out = stdout_console()
    with one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        show_book(out, client, config, pair_market(config, pair), depth)


@main.command()
@click.argument("order_hash", metavar="HASH", callback=converter(parse_order_hash))
@node_option
@key_option
@click.option(
    "--onchain", is_flag=True,
    help="Also cancel on chain (Exchange.cancelOrder, permanent; costs gas).",
)  # fmt: skip
@rpc_option("JSON-RPC endpoint for --onchain [default: the deployment file's rpc].")
@deployment_option("Deployment file, read for --onchain when --rpc is not given.")
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
    out = stdout_console()
    with one_line_errors(), NodeClient(node_url) as client:
        config = client.order_config()
        if onchain:
            cancel_onchain(out, client, config, order_hash, key, rpc, deployment_path)
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
def console_command(node_url: str, key: bytes, pair: str, slippage_bps: int) -> None:
    """The seed's prompt as a client of a node: send_order, get_dump, cancel, book, fills.

    E.g. `send_order buy limit 10 10`, `send_order sell market 5 50` (at most 50 bps below
    the best bid); `help` lists the commands. It only talks to the node's HTTP API."""
    from sdex.console import run_console

    sys.exit(
        run_console(node_url, key, pair, slippage_bps, out=stdout_console(), err=stderr_console())
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
        stderr_console().print(
            "[bold red]error:[/] sdex node needs an operator key: --key HEX or $SDEX_NODE_KEY. "
            "Each node needs its own (two nodes on one key fight over its nonces); the dev "
            f"accounts' keys are in {escape(str(deployment_path))}."
        )
        raise click.exceptions.Exit(2)
    check_new_file_dirs({"--db": db, "--node-key": node_key}, create=mkdir)
    warn_traded_key(deployment_path, key)
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
