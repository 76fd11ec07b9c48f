"""``sdex devnet`` and ``sdex demo``: a local chain (Hardhat or anvil) with the Exchange and
the dev tokens deployed and the dev accounts funded, and the demo's story run on one
(``sdex.devnet``, ``sdex.demorun``). ``sdex.cli`` adds them to its commands."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import click
from rich.markup import escape

from sdex.clirange import FloatBetween, IntBetween
from sdex.deployment import DEFAULT_PATH, DEMO_PATH, DevAccount
from sdex.order import to_checksum
from sdex.wallet import token_line
from sdex.walletout import PipeConsole, print_error, stderr_console


@click.command()
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

    console = PipeConsole()
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
        console.print(f"Exchange {to_checksum(d.exchange)} (deployed in block {d.deploy_block})")
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
        # (its output, Hardhat's banner of dev keys and anvil's lines a transaction, goes
        # there, not to this terminal: user81, said so that a user knows where to look)
        console.print(escape(f"{engine}'s own output: {net.node.log_path}"), soft_wrap=True)
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


@click.command()
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

    sys.exit(run_demo(PipeConsole(record=True, soft_wrap=True), log_dir, keep=keep))
