"""``sdex audit`` (``sdex.audit``'s command line; ``sdex.cli`` adds it to ``sdex``)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from sdex.cliopts import deployment_option, node_url_check, rpc_option
from sdex.clirange import FloatBetween
from sdex.deployment import Deployment, DeploymentError
from sdex.errors import SdexError
from sdex.walletout import print_error, short_error, stderr_console, stdout_console


@click.command()
@deployment_option("The deployment file: chain, Exchange and its deployment block.")
@rpc_option("JSON-RPC endpoint [default: the deployment file's rpc].")
@click.option(
    "--node", "nodes", multiple=True, metavar="URL", callback=node_url_check,
    help="A node to audit, and to ask for the signed orders the chain's calldata does not "
    "show (fills of transactions sent through another contract); repeatable.",
)  # fmt: skip
@click.option(
    "--orders", "order_files", multiple=True, metavar="FILE",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="A JSON list of signed orders (or a GET /v1/orders page), another order source; "
    "repeatable.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for machines.")
@click.option(
    "--sync-timeout", type=FloatBetween(0, note="seconds"), default=10.0, show_default=True,
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

    The signed orders come from the chain itself: each settlement transaction sent to the
    Exchange carries its orders and signatures in its calldata, so `--deployment` alone audits
    the chain against itself, trusting no node. A fill of a transaction sent through another
    contract needs another source (--node, --orders), else it is a missing_order.

    Exit status: 0 clean, 1 on any discrepancy, 2 when the audit cannot run.
    """
    import json

    from sdex.audit import OrdersFileError, audit_network, load_orders
    from sdex.order import Domain

    try:
        d = Deployment.load(deployment_path)
    except DeploymentError as e:
        print_error(stderr_console(), e)
        raise click.exceptions.Exit(2) from None
    orders = []
    for path in order_files:
        try:
            orders += load_orders(path, Domain(d.chain_id, d.exchange))
        except OrdersFileError as e:
            raise click.BadParameter(str(e), param_hint="'--orders'") from None
    say_if_silent(rpc or d.rpc)
    try:
        report = audit_network(d, nodes, rpc=rpc, orders=orders, sync_timeout=sync_timeout)
    except (SdexError, OSError) as e:  # the chain unreachable, or not the deployment's
        stderr_console().print(f"[bold red]cannot audit:[/] {escape(short_error(e))}")
        raise click.exceptions.Exit(2) from None
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        report.print(stdout_console())
    raise click.exceptions.Exit(0 if report.ok else 1)


CHAIN_NOTICE = 3.0
"""Seconds the audit waits for the chain's first answer before it says it is waiting."""


def say_if_silent(url: str) -> None:
    """Ask the chain its head, ``CHAIN_NOTICE`` s at most: one that has not answered by then
    (a paused devnet, a busy endpoint) is said on stderr, and the audit goes on waiting for
    it (leftovers48: nothing was said for the RPC's 30 s). Any other failure: the audit's
    own calls say it."""
    from sdex.chain.rpc import Rpc
    from sdex.errors import RpcTimeout

    rpc = Rpc(url)
    try:
        rpc.call("eth_blockNumber", timeout=CHAIN_NOTICE)
    except RpcTimeout:
        stderr_console().print(
            f"[yellow]the chain at {escape(url)} has not answered in {CHAIN_NOTICE:g} s"
            " (paused or busy?): still waiting for it[/]"
        )
    except (SdexError, OSError):
        pass
    finally:
        rpc.close()  # (its connection: left to the garbage collector, a ResourceWarning)
