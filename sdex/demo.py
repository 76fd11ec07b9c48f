"""``sdex demo``: the devnet story, end to end, printed for a newcomer.

For now (until the node and gossip land) the story is the seed's own example settled on a
real chain: a buy of 10 WETH at 10 USDC and a sell of 5 WETH at 10 USDC, signed by two dev
wallets, matched, and settled by the Exchange's ``matchOrders``; then the on-chain record
and the balance changes are read back and checked.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sdex import fillmath
from sdex.chain import Exchange, Rpc, Sender, Token
from sdex.deployment import Deployment
from sdex.devnet import Devnet
from sdex.order import ZERO_ADDRESS, Order, random_salt, sign_order


def run_demo(console: Console, log_dir: Path) -> int:
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with console.status("starting a Hardhat devnet and deploying the Exchange, WETH and USDC"):
        devnet = Devnet(deployment_path=log_dir / "devnet.json", log_path=log_dir / "hardhat.log")
        deployment = devnet.start()
    try:
        console.print(
            f"[bold]devnet[/] chain {deployment.chain_id} at {deployment.rpc}; "
            f"Exchange {deployment.exchange} (deployment written to {log_dir / 'devnet.json'})"
        )
        return _story(console, deployment, started)
    finally:
        devnet.stop()
        console.print("devnet stopped")


def _story(console: Console, d: Deployment, started: float) -> int:
    rpc = Rpc(d.rpc)
    exchange = Exchange(rpc, d.exchange)
    domain = exchange.domain()
    weth, usdc = d.token("WETH"), d.token("USDC")
    tokens = {"WETH": Token(rpc, weth.address), "USDC": Token(rpc, usdc.address)}
    buyer, seller, operator = d.accounts[1], d.accounts[2], d.accounts[0]
    expiry = int(time.time()) + 3600

    def units(n: str, decimals: int) -> int:
        return int(Decimal(n) * 10**decimals)

    # The seed's example: `send_order buy limit 10 10`, then `send_order sell limit 5 10`.
    buy = sign_order(
        Order(buyer.address, ZERO_ADDRESS, usdc.address, weth.address,
              units("100", usdc.decimals), units("10", weth.decimals),
              ZERO_ADDRESS, 0, expiry, random_salt()),
        domain, bytes.fromhex(buyer.key[2:]),
    )  # fmt: skip
    sell = sign_order(
        Order(seller.address, ZERO_ADDRESS, weth.address, usdc.address,
              units("5", weth.decimals), units("50", usdc.decimals),
              ZERO_ADDRESS, 0, expiry, random_salt()),
        domain, bytes.fromhex(seller.key[2:]),
    )  # fmt: skip
    console.print(f"wallet {buyer.address} signs [green]buy 10 WETH @ 10 USDC[/]  {buy.hash_hex}")
    console.print(f"wallet {seller.address} signs [red]sell 5 WETH @ 10 USDC[/]  {sell.hash_hex}")

    before = {
        (w, s): t.balance_of(w) for s, t in tokens.items() for w in (buyer.address, seller.address)
    }
    expected = fillmath.match_amounts(
        buy.order.maker_amount, buy.order.taker_amount, 0, 0,
        sell.order.maker_amount, sell.order.taker_amount, 0, 0,
    )  # fmt: skip
    receipt = exchange.match_orders(Sender(rpc, bytes.fromhex(operator.key[2:])), buy, sell)
    fills = exchange.fills(receipt.logs)
    console.print(
        f"operator {operator.address} settled the match in block {receipt.block_number} "
        f"(tx {receipt.tx_hash}, {receipt.gas_used:,} gas)"
    )

    table = Table(title="on-chain fills (OrderFilled events)")
    for col in ("order", "maker", "gave", "received (before fee)"):
        table.add_column(col)
    for f in fills:
        gives = "USDC" if f.order_hash == buy.hash else "WETH"
        gets = "WETH" if gives == "USDC" else "USDC"
        dec_g = d.token(gives).decimals
        dec_r = d.token(gets).decimals
        table.add_row(
            "0x" + f.order_hash.hex()[:10] + "…", f.maker[:10] + "…",
            f"{Decimal(f.maker_filled) / 10**dec_g} {gives}",
            f"{Decimal(f.taker_filled) / 10**dec_r} {gets}",
        )  # fmt: skip
    console.print(table)

    ok = True
    info_buy, info_sell = exchange.order_info(buy.order), exchange.order_info(sell.order)
    console.print(
        f"buy order: {info_buy.status.name}, filled {Decimal(info_buy.filled) / 10**usdc.decimals}"
        f" of 100 USDC; sell order: {info_sell.status.name}"
    )
    checks = [
        ("buy order filled by 50 USDC on chain", info_buy.filled == expected.left_filled),
        ("sell order fully filled on chain", info_sell.filled == sell.order.maker_amount),
        ("buyer received 5 WETH",
         tokens["WETH"].balance_of(buyer.address) - before[(buyer.address, "WETH")]
         == expected.right_filled),
        ("seller received 50 USDC",
         tokens["USDC"].balance_of(seller.address) - before[(seller.address, "USDC")]
         == expected.left_filled),
        ("Python arithmetic equals the contract's", [f.maker_filled for f in fills]
         == [expected.left_filled, expected.right_filled]),
    ]  # fmt: skip
    for label, passed in checks:
        ok &= passed
        console.print(("[green]✓[/] " if passed else "[red]✗[/] ") + label)
    console.print(
        f"demo finished in {time.monotonic() - started:.1f}s: " + ("OK" if ok else "FAILED")
    )
    return 0 if ok else 1
