"""A burner flood against a node with and without the per-client budget of chain reads.

budget33 (attack30's "Left"): a contract maker whose ``isValidSignature`` burns all the gas
it is given costs the chain one verdict ``eth_call`` per order with a fresh salt; on Hardhat
each grows its RSS ~7.5 MB for good. Two node processes on one Hardhat devnet: ``off`` with
``--chain-read-limit 1000000`` (no budget to speak of: as before), ``on`` with the default
(10 a second, bursts of 100). Phases alternate off/on; in each, one client (127.0.0.2) posts
burner orders (fresh salts, ``CONCURRENCY`` at a time) for ``SECONDS`` while another
(127.0.0.1) asks ``/health`` every 50 ms. Per phase: Hardhat's RSS growth (the process tree
of the devnet), the chain reads the node made, the answers (400 / 429) and /health's
latency. Prints JSON.

    PYTHONPATH=$PWD .venv/bin/python bench/chain_reads.py [--pairs 2] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.node import pct, signed_devnet  # noqa: E402
from sdex.chain.exchange import deploy  # noqa: E402
from sdex.devnet import free_port  # noqa: E402
from sdex.order import random_salt, sign_order  # noqa: E402
from tests.conftest import chain_of  # noqa: E402

OWNER, ALICE, OPERATORS = 5, 1, (19, 18)
E18, E6 = 10**18, 10**6
CONCURRENCY = 4


def tree_rss_mib(pid: int) -> float:
    """The RSS of ``pid`` and its descendants (Hardhat runs under ``npx``), MiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            with open(f"/proc/{p}/status") as f:
                total += next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
    return total / 1024


@contextlib.contextmanager
def node(deployment: Path, key: str, work: Path, name: str, extra: list[str]) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "sdex.cli", "node", "--port", str(port), "--deployment",
           str(deployment), "--key", key, "--db", str(work / f"{name}.db"), *extra]  # fmt: skip
    log = (work / f"{name}.log").open("ab")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(requests.RequestException):
                h = requests.get(url + "/health", timeout=5).json()
                if h.get("chainMirror", {}).get("status") == "ok":
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"node {name} did not start (see {work / name}.log)")
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


async def phase(url: str, bodies: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """The flood and the probe for ``seconds``. A body refused 429 (not read) goes back to
    ``bodies`` to be posted again: still a fresh salt to the node."""
    codes: dict[int, int] = {}
    lat: list[float] = []
    stop = time.monotonic() + seconds
    hostile = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with (
        aiohttp.ClientSession(connector=hostile) as flood,
        aiohttp.ClientSession() as probe,
    ):

        async def flooder() -> None:
            while time.monotonic() < stop:
                b = bodies.pop()
                async with flood.post(url + "/v1/orders", json=b) as r:
                    await r.read()
                    codes[r.status] = codes.get(r.status, 0) + 1
                if r.status == 429:
                    bodies.append(b)

        async def prober() -> None:
            while time.monotonic() < stop:
                t = time.perf_counter()
                async with probe.get(url + "/health") as r:
                    await r.read()
                lat.append(time.perf_counter() - t)  # (seconds: ``pct`` gives ms)
                await asyncio.sleep(0.05)

        await asyncio.gather(prober(), *(flooder() for _ in range(CONCURRENCY)))
    return {
        "answers": codes,
        "health_ms": {
            "p50": pct(lat, 0.5),
            "p99": pct(lat, 0.99),
            "max": round(1000 * max(lat), 2),
            "n": len(lat),
        },
    }


def reads(url: str) -> int:
    return int(
        requests.get(url + "/health", timeout=30).json()["chainMirror"]["ordersReadFromChain"]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--orders", type=int, default=2500, help="burner orders signed in all")
    a = ap.parse_args()
    with signed_devnet("sdex-chain-reads-") as (work, dev, deployment, _signer, _key):
        assert dev.rpc is not None and dev.node.proc is not None
        c = chain_of(dev.rpc, deployment)
        wallet = deploy(c.sender(0), "ERC1271GasGatedWallet", c.address(OWNER), 0, True)

        base = replace(c.order(ALICE, c.weth, E18, c.usdc, 3000 * E6), maker=wallet)
        signed = (  # before any timing (one RPC read of the clock for them all)
            dict(sign_order(replace(base, salt=random_salt()), c.domain, c.keys[OWNER]).to_json())
            for _ in range(a.orders)
        )
        bodies = list(signed)
        dep = work / "devnet.json"
        keys = ["0x" + c.keys[i].hex() for i in OPERATORS]
        results: list[dict[str, Any]] = []
        with (
            node(dep, keys[0], work, "off", ["--chain-read-limit", "1000000"]) as off,
            node(dep, keys[1], work, "on", []) as on,
        ):
            for _ in range(a.pairs):
                for name, url in (("off", off), ("on", on)):
                    rss0, r0 = tree_rss_mib(dev.node.proc.pid), reads(url)
                    out = asyncio.run(phase(url, bodies, a.seconds))
                    rss1, r1 = tree_rss_mib(dev.node.proc.pid), reads(url)
                    growth = round(rss1 - rss0, 1)
                    out |= {"budget": name, "chain_reads": r1 - r0, "rss_growth_mib": growth}
                    out["hardhat_rss_mib"] = round(rss1, 1)
                    results.append(out)
                    print(json.dumps(out), file=sys.stderr)
        print(
            json.dumps(
                {"seconds": a.seconds, "concurrency": CONCURRENCY, "phases": results}, indent=1
            )
        )


if __name__ == "__main__":
    main()
