"""A burner flood from many client addresses against a node with and without the node-wide
ceiling of chain reads (left33).

budget33's budget is per sender: many client addresses each spend their own. Two node
processes on one Hardhat devnet, each with ``--chain-read-limit RATE`` per client: ``off``
with ``--chain-read-total 1000000`` (no ceiling to speak of: as before), ``on`` with
``--chain-read-total TOTAL`` (half of it the wallets'). Phases alternate off/on; in each,
``CLIENTS`` loopback addresses (127.0.0.2, ...) post burner orders (fresh salts) for
``SECONDS``, one at a time each, while 127.0.0.1 asks ``/health`` every 50 ms. Per phase:
the node's chain reads, Hardhat's RSS growth (~7.5 MB a burner read, never given back),
the answers (400 read and refused / 429 throttled), /health's latency. Prints JSON.

    PYTHONPATH=$PWD .venv/bin/python bench/chain_read_total.py [--pairs 2] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chain_reads import ALICE, E6, E18, OPERATORS, OWNER, node, reads, tree_rss_mib  # noqa: E402
from bench.node import pct, signed_devnet  # noqa: E402
from sdex.chain.exchange import deploy  # noqa: E402
from sdex.order import random_salt, sign_order  # noqa: E402
from tests.conftest import chain_of  # noqa: E402


async def phase(
    url: str, bodies: list[dict[str, Any]], clients: int, seconds: float
) -> dict[str, Any]:
    codes: dict[int, int] = {}
    lat: list[float] = []
    stop = time.monotonic() + seconds

    async def flooder(k: int) -> None:
        conn = aiohttp.TCPConnector(local_addr=(f"127.0.0.{k + 2}", 0))
        async with aiohttp.ClientSession(connector=conn) as s:
            while time.monotonic() < stop:
                b = bodies.pop()
                async with s.post(url + "/v1/orders", json=b) as r:
                    await r.read()
                    codes[r.status] = codes.get(r.status, 0) + 1
                if r.status == 429:  # (not read: still a fresh salt to the node)
                    bodies.append(b)

    async def prober() -> None:
        async with aiohttp.ClientSession() as probe:
            while time.monotonic() < stop:
                t = time.perf_counter()
                async with probe.get(url + "/health") as r:
                    await r.read()
                lat.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)

    await asyncio.gather(prober(), *(flooder(k) for k in range(clients)))
    health = {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "n": len(lat)}
    return {"answers": codes, "health_ms": health}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rate", type=float, default=1.0, help="--chain-read-limit of both")
    ap.add_argument("--total", type=float, default=4.0, help="--chain-read-total of 'on'")
    ap.add_argument("--orders", type=int, default=2000, help="burner orders signed in all")
    a = ap.parse_args()
    with signed_devnet("sdex-chain-read-total-") as (work, dev, deployment, _signer, _key):
        assert dev.rpc is not None and dev.node.proc is not None
        c = chain_of(dev.rpc, deployment)
        wallet = deploy(c.sender(0), "ERC1271GasGatedWallet", c.address(OWNER), 0, True)
        base = replace(c.order(ALICE, c.weth, E18, c.usdc, 3000 * E6), maker=wallet)
        bodies = [
            dict(sign_order(replace(base, salt=random_salt()), c.domain, c.keys[OWNER]).to_json())
            for _ in range(a.orders)
        ]
        dep = work / "devnet.json"
        keys = ["0x" + c.keys[i].hex() for i in OPERATORS]
        per = ["--chain-read-limit", str(a.rate)]
        results: list[dict[str, Any]] = []
        with (
            node(dep, keys[0], work, "off", [*per, "--chain-read-total", "1000000"]) as off,
            node(dep, keys[1], work, "on", [*per, "--chain-read-total", str(a.total)]) as on,
        ):
            for _ in range(a.pairs):
                for name, url in (("off", off), ("on", on)):
                    rss0, r0 = tree_rss_mib(dev.node.proc.pid), reads(url)
                    out = asyncio.run(phase(url, bodies, a.clients, a.seconds))
                    rss1, r1 = tree_rss_mib(dev.node.proc.pid), reads(url)
                    out |= {"ceiling": name, "chain_reads": r1 - r0}
                    out |= {"rss_growth_mib": round(rss1 - rss0, 1)}
                    results.append(out)
                    print(json.dumps(out), file=sys.stderr)
        summary = {"seconds": a.seconds, "clients": a.clients, "rate": a.rate, "total": a.total}
        print(json.dumps({**summary, "phases": results}, indent=1))


if __name__ == "__main__":
    main()
