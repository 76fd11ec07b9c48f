"""The ``sdex`` command line (PRODUCT.md section 4)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click
from rich.console import Console

from sdex.deployment import DEFAULT_PATH


@click.group()
def main() -> None:
    """SDEX: a blockchain-settled relayer network for ERC-20 limit orders."""


@main.command()
@click.option("--port", default=8545, show_default=True, help="JSON-RPC port of the Hardhat node.")
@click.option(
    "--deployment", "deployment_path", type=click.Path(path_type=Path), default=DEFAULT_PATH,
    show_default=True, help="Where to write the deployment file.",
)  # fmt: skip
def devnet(port: int, deployment_path: Path) -> None:
    """Start a Hardhat node, deploy the Exchange, WETH and USDC, fund the dev accounts."""
    from sdex.devnet import Devnet

    console = Console()
    net = Devnet(
        port=port, deployment_path=deployment_path, log_path=deployment_path.with_suffix(".log")
    )
    with console.status(f"starting Hardhat on 127.0.0.1:{port} and deploying"):
        d = net.start()
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
                    console.print("[red]the Hardhat node exited[/]")
                    sys.exit(1)
        except KeyboardInterrupt:
            pass
    finally:
        net.stop()


@main.command()
@click.option(
    "--log-dir", type=click.Path(path_type=Path), default=Path(".sdex/demo"), show_default=True,
    help="Where the demo leaves its deployment file and the Hardhat log.",
)  # fmt: skip
def demo(log_dir: Path) -> None:
    """Run the devnet demo end to end and print what happens."""
    from sdex.demo import run_demo

    sys.exit(run_demo(Console(), log_dir))


if __name__ == "__main__":
    main()
