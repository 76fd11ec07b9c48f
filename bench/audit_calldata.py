#!/usr/bin/env python3
"""``sdex audit`` time with the chain as its order source vs an orders file.

One Hardhat devnet; ``--txs`` settlement transactions, cycling matchOrders,
matchOrdersPacked, fillOrder and a batchMatchOrders of ``--batch`` matches. Then, alternated
in ``--pairs`` pairs, the audit with the signed orders from an orders file and the calldata
left out (what the audit did before: main needs ``--orders`` or ``--node``) and the audit
with no file (each settlement transaction read and decoded). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402

from sdex.audit import OrderCopy, audit_network  # noqa: E402
from sdex.chain import Exchange, Sender, Token  # noqa: E402
from sdex.devnet import Devnet  # noqa: E402
from sdex.order import ZERO_ADDRESS, Order, SignedOrder, random_salt, sign_order  # noqa: E402

E18, E6 = 10**18, 10**6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", type=int, default=80)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        net = Devnet(log_path=Path(tmp) / "devnet.log", accounts=20)
        net.start()
        try:
            assert net.rpc is not None and net.deployment is not None
            d, rpc = net.deployment, net.rpc
            keys = [bytes.fromhex(a.key[2:]) for a in d.accounts]
            senders = [Sender(rpc, k, d.chain_id) for k in keys]
            ex = Exchange(rpc, d.exchange)
            domain = ex.domain()
            weth, usdc = Token(rpc, d.token("WETH").address), Token(rpc, d.token("USDC").address)
            now = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
            signed: list[SignedOrder] = []

            def order(maker: int, sell: Token, sa: int, buy: Token, ba: int) -> SignedOrder:
                o = Order(senders[maker].address, ZERO_ADDRESS, sell.address, buy.address, sa,
                          ba, ZERO_ADDRESS, 0, now + 86400, random_salt())  # fmt: skip
                s = sign_order(o, domain, keys[maker])
                signed.append(s)
                return s

            def pair() -> tuple[SignedOrder, SignedOrder]:
                return order(1, weth, E18 // 100, usdc, 30 * E6), order(
                    2, usdc, 30 * E6, weth, E18 // 100
                )

            for i in range(args.txs):
                kind = i % 4
                if kind == 0:
                    ex.match_orders(senders[18], *pair())
                elif kind == 1:
                    ex.match_orders_packed(senders[18], *pair())
                elif kind == 2:
                    ex.fill_order(senders[3], order(1, weth, E18 // 100, usdc, 30 * E6), 30 * E6)
                else:
                    ex.batch_match_orders(senders[18], [pair() for _ in range(args.batch)])
            copies = [OrderCopy(s, "file") for s in signed]
            times: dict[str, list[float]] = {"orders_file": [], "calldata": []}
            for _ in range(args.pairs):
                for name, kw in (
                    ("orders_file", {"orders": copies, "calldata": False}),
                    ("calldata", {}),
                ):
                    t = time.perf_counter()
                    report = audit_network(d, **kw)  # type: ignore[arg-type]
                    times[name].append(time.perf_counter() - t)
                    assert report.ok, report.to_json()
            fills = report.counts["fills"]
        finally:
            net.stop()
    out = {
        "machine": machine(),
        "txs": args.txs,
        "fills": fills,
        "pairs": [
            [round(a, 3), round(b, 3)]
            for a, b in zip(times["orders_file"], times["calldata"], strict=True)
        ],
        "median_s": {k: round(statistics.median(v), 3) for k, v in times.items()},
        "median_ratio": round(
            statistics.median(
                b / a for a, b in zip(times["orders_file"], times["calldata"], strict=True)
            ),
            3,
        ),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
