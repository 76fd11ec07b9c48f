"""The settler's loop during a diagnosis hold (``Settler.run``; review72): every queued match
is of the held order (``held``), so none is taken; the loop looks again every
``HELD_RECHECK`` s. Its process CPU over a window with ``--queued`` such matches against the
same window with none queued (idle, the reference), alternated; no chain is asked (dead
URLs). Prints JSON: CPU milliseconds a second each, the looks at the hold, and held/idle."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdex.chain import Sender
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.fillmath import match_amounts
from sdex.matching.match import Match
from sdex.model import Side
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder
from sdex.settlement.settler import Settler
from sdex.store import ChainIdentity, Store

DEAD = "http://127.0.0.1:9"
EXCHANGE, WETH, USDC = "0x" + "11" * 20, "0x" + "aa" * 20, "0x" + "bb" * 20
E18, E6 = 10**18, 10**6


def order(i: int, sell: str, buy: str, amount: int, price: int) -> SignedOrder:
    o = Order("0x" + "22" * 20, ZERO_ADDRESS, sell, buy, amount, price, ZERO_ADDRESS, 0, 2**40, i)
    return SignedOrder(o, bytes(65), i.to_bytes(32, "big"))


def of_one_ask(n: int) -> list[Match]:
    """``n`` matches of one ask (the held order), each with its own bid."""
    ask = order(0, WETH, USDC, n * E18, 3000 * E6)
    amounts = match_amounts(E18, 3000 * E6, 0, 0, 3000 * E6, E18, 0, 0, E18)
    return [
        Match(ask, order(k + 1, USDC, WETH, 3000 * E6, E18), amounts, Side.BID) for k in range(n)
    ]


async def window(settler: Settler, matches: list[Match], seconds: float) -> tuple[float, int]:
    """(CPU ms a second, looks at the hold) of ``settler``'s loop with ``matches`` queued."""
    looks = [0]
    hashes = frozenset({matches[0].resting.hash}) if matches else frozenset()

    def held() -> AbstractSet[bytes]:
        looks[0] += 1
        return hashes

    settler.held = held
    settler.submit(matches)
    running = asyncio.create_task(settler.run())
    await asyncio.sleep(0.05)  # (its first look)
    cpu, looks[0] = time.process_time(), 0
    await asyncio.sleep(seconds)
    used = time.process_time() - cpu
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    settler._queue, settler._submitted = [], []
    return 1000 * used / seconds, looks[0]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queued", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    chain = ChainThread(DEAD, EXCHANGE, "bench-settle")
    rpc = AsyncRpc(DEAD)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.db", ChainIdentity(1, EXCHANGE, "0x" + "00" * 32),
                      Domain(1, EXCHANGE))  # fmt: skip

        async def on_result(_: object) -> None:
            return None

        sender = Sender(chain.rpc, bytes(31) + b"\x01", 1)
        settler = Settler(chain, sender, store, on_result, receipts=rpc)
        matches = of_one_ask(args.queued)
        out: dict[str, Any] = {"queued": args.queued, "seconds": args.seconds}
        runs: dict[str, list[tuple[float, int]]] = {"idle": [], "held": []}
        for _ in range(args.rounds):  # (alternated)
            runs["idle"].append(await window(settler, [], args.seconds))
            runs["held"].append(await window(settler, matches, args.seconds))
        for case, got in runs.items():
            out[case] = {
                "cpu_ms_per_s": [round(c, 2) for c, _ in got],
                "looks": [n for _, n in got],
            }
        idle = sorted(c for c, _ in runs["idle"])[len(runs["idle"]) // 2]
        held = sorted(c for c, _ in runs["held"])[len(runs["held"]) // 2]
        out["held_over_idle_cpu_ms"] = round(held - idle, 2)
        out["held_over_idle"] = round(held / idle, 2) if idle else None
        print(json.dumps(out))
        await rpc.close()
        chain.close()
        store.close()


if __name__ == "__main__":
    asyncio.run(main())
