#!/usr/bin/env python3
"""One order kept by the wallet (``sdex.walletkeep.keep``: its file written, then the kept
orders pruned) when ``--kept`` kept orders are there, all written over an hour ago and none
expired (a wallet's long-lived orders), with ``MAX_READS`` as it is (``bounded``: 16 of the
old files read for their expiry) against every old file read (``all``: the code before
user81), sides alternated, ``--rounds`` times each. Prints JSON: per side the milliseconds a
keep took (median, min, max) and the files read per keep; ``ratio``: all / bounded medians;
the load average.

Run: PYTHONPATH=$PWD .venv/bin/python bench/user81_prune.py [--kept 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from sdex import localfile, walletkeep
from sdex.order import Domain, Order, address_of, random_salt, sign_order
from sdex.wallet import Side

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
DOMAIN = Domain(31337, "0x" + "12" * 20)


def signed(expiry: int) -> object:
    order = Order(
        address_of(KEY), "0x" + "00" * 20, "0x" + "aa" * 20, "0x" + "bb" * 20, 10**18,
        2000 * 10**6, "0x" + "00" * 20, 0, expiry, random_salt(),
    )  # fmt: skip
    return sign_order(order, DOMAIN, KEY)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kept", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    reads = [0]
    read_bounded = localfile.read_bounded

    def counted(*a: object, **k: object) -> bytes:
        reads[0] += 1
        return read_bounded(*a, **k)  # type: ignore[arg-type]

    localfile.read_bounded = counted  # type: ignore[assignment]
    walletkeep.MAX_KEPT = args.kept + 10 * args.rounds  # (no removal: the same files each keep)
    sides = {"bounded": walletkeep.MAX_READS, "all": 10**9}
    took: dict[str, list[float]] = {s: [] for s in sides}
    read: dict[str, list[int]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as d:
        os.environ[walletkeep.WALLET_DIR_ENV] = d
        now = int(time.time())
        prune, walletkeep.prune = walletkeep.prune, lambda *a, **k: []  # type: ignore[assignment]
        for _ in range(args.kept):
            walletkeep.keep(signed(now + 30 * 86_400), DOMAIN, "gtc", "WETH/USDC", Side.SELL, "x")  # type: ignore[arg-type]
        old = now - 2 * walletkeep.EXPIRED_FOR
        orders = Path(d) / "orders"
        for p in orders.iterdir():
            os.utime(p, (old, old))
        walletkeep.prune = prune  # type: ignore[assignment]
        for _ in range(args.rounds):
            for side, most in sides.items():
                walletkeep.MAX_READS = most
                s = signed(now + 86_400)
                reads[0] = 0
                began = time.perf_counter()
                path = walletkeep.keep(s, DOMAIN, "gtc", "WETH/USDC", Side.SELL, "x")  # type: ignore[arg-type]
                took[side].append((time.perf_counter() - began) * 1000)
                read[side].append(reads[0])
                os.utime(path, (old, old))  # (old too: the next keep finds as many)
    result: dict[str, object] = {
        side: {
            "ms_median": round(statistics.median(v), 2),
            "ms_min": round(min(v), 2),
            "ms_max": round(max(v), 2),
            "files_read": max(read[side]),
        }
        for side, v in took.items()
    }
    result["ratio"] = round(statistics.median(took["all"]) / statistics.median(took["bounded"]), 1)
    result["kept"] = args.kept
    result["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
