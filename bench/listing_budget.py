"""Other clients' latency while greedy clients loop large listing pages: two node trees
alternated on one devnet (``--root NAME=DIR``, repeated; the order reversed every other round).

Each run starts the tree's node in its own process, posts ``--orders`` resting orders, then
measures a well-behaved client (source address 127.0.0.3: its own per-client budgets) that
alternates ``POST /v1/orders`` (a new resting order) and ``GET /health`` every ``--pace``
seconds: first for ``--quiet`` seconds alone, then for ``--seconds`` while ``--addresses``
greedy clients (127.0.0.10, .11, ...: each its own budget) loop ``--page`` (default
``GET /v1/orders?perPage=1000``) with ``--greedy`` requests in flight each. Meanwhile a
probe client (127.0.0.4) sends ``GET /health`` back to back, one at a time: its latency is
the time the node's event loop took to get to it, so its longest is the loop's longest hold
as a client sees it (quiet and loaded). One JSON line a run: the good client's p50/p99 per
route, quiet and loaded, the probe's p99 and max, the greedy clients' pages by status, and
the node's CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import node as bn

from sdex.devnet import Devnet

PAGE = "/v1/orders?perPage=1000"


def client(source: str, limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, local_addr=(source, 0)),
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def good_client(
    url: str, bodies: list[bytes], seconds: float, pace: float
) -> dict[str, list[float]]:
    """Alternate a POST of the next body and a GET /health every ``pace`` s for ``seconds``."""
    lat: dict[str, list[float]] = {"post": [], "health": []}
    clock = time.perf_counter
    end = clock() + seconds
    async with client("127.0.0.3", 4) as s:
        i = 0
        while clock() < end and i < len(bodies):
            t = clock()
            async with s.post(url + "/v1/orders", data=bodies[i], headers=bn.JSON_HEADERS) as r:
                await r.read()
                if r.status >= 300:
                    raise RuntimeError(f"order refused: {r.status} {await r.text()}")
            lat["post"].append(clock() - t)
            i += 1
            t = clock()
            async with s.get(url + "/health") as r:
                await r.read()
            lat["health"].append(clock() - t)
            await asyncio.sleep(max(0.0, pace - (clock() - t)))
    return lat


async def greedy_client(
    url: str, source: str, page: str, inflight: int, stop: asyncio.Event
) -> Counter[int]:
    statuses: Counter[int] = Counter()
    async with client(source, inflight + 2) as s:

        async def loop() -> None:
            while not stop.is_set():
                async with s.get(url + page) as r:
                    await r.read()
                    statuses[r.status] += 1

        await asyncio.gather(*(loop() for _ in range(inflight)))
    return statuses


async def probe(url: str, stop: asyncio.Event) -> list[float]:
    """``GET /health`` back to back until ``stop``: each one's latency."""
    lat: list[float] = []
    clock = time.perf_counter
    async with client("127.0.0.4", 1) as s:
        while not stop.is_set():
            t = clock()
            async with s.get(url + "/health") as r:
                await r.read()
            lat.append(clock() - t)
    return lat


async def run_one(url: str, signer: bn.Signer, args: argparse.Namespace) -> dict[str, Any]:
    resting = [bn.body(o) for o in signer.resting(args.orders, list(range(bn.OPERATOR)))]
    n_good = int((args.quiet + args.seconds) / args.pace) + 20
    good = [bn.body(o) for o in signer.resting(n_good, list(range(bn.OPERATOR)))]
    async with client("127.0.0.1", 12) as s:
        done = await bn.post_all(s, url + "/v1/orders", resting, 8)
    if done["posted"] != len(resting) or set(done["statuses"]) - {"200", "201"}:
        raise RuntimeError(f"resting orders: {done['statuses']} {done['errors']}")
    stop = asyncio.Event()
    quiet_probe = asyncio.create_task(probe(url, stop))
    quiet = await good_client(url, good[: len(good) // 3], args.quiet, args.pace)
    stop.set()
    probes = {"quiet": await quiet_probe}
    stop = asyncio.Event()
    page = args.page.format(weth=signer.weth, usdc=signer.usdc)
    sources = [f"127.0.0.{10 + i}" for i in range(args.addresses)]
    greedy = [
        asyncio.create_task(greedy_client(url, src, page, args.greedy, stop)) for src in sources
    ]
    loaded_probe = asyncio.create_task(probe(url, stop))
    loaded = await good_client(url, good[len(good) // 3 :], args.seconds, args.pace)
    stop.set()
    probes["loaded"] = await loaded_probe
    pages: Counter[int] = Counter()
    for g in greedy:
        pages.update(await g)
    out: dict[str, Any] = {"pages": {str(k): v for k, v in sorted(pages.items())}}
    for phase, lat in (("quiet", quiet), ("loaded", loaded)):
        for route, values in lat.items():
            out[f"{phase}_{route}_p50"] = bn.pct(values, 0.5)
            out[f"{phase}_{route}_p99"] = bn.pct(values, 0.99)
        out[f"{phase}_probe_p99"] = bn.pct(probes[phase], 0.99)
        out[f"{phase}_probe_max"] = round(max(probes[phase]) * 1000, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--orders", type=int, default=1200)
    ap.add_argument("--quiet", type=float, default=3.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--pace", type=float, default=0.02)
    ap.add_argument("--greedy", type=int, default=2, help="each greedy client's pages in flight")
    ap.add_argument("--addresses", type=int, default=1, help="greedy clients (addresses)")
    ap.add_argument(
        "--page",
        default=PAGE,
        help="the path the greedy clients loop ({weth} and {usdc}: the tokens' addresses)",
    )
    args = ap.parse_args()
    roots = {n: Path(d).resolve() for n, d in (r.split("=", 1) for r in args.root)}
    names = list(roots)
    work = Path(tempfile.mkdtemp(prefix="sdex-listing-"))
    dev = Devnet(deployment_path=work / "devnet.json", log_path=work / "hardhat.log", accounts=20)
    dep = dev.start()
    try:
        assert dev.rpc is not None
        signer, key = bn.devnet_signer(dev, dep)
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                bn.NODE_ROOT = roots[name]
                with bn.node_process(work / "devnet.json", key, work, f"{name}-{r}", None) as (
                    p,
                    url,
                ):
                    cpu0 = bn.cpu_seconds(p.pid)
                    res = asyncio.run(run_one(url, signer, args))
                    res["node_cpu_s"] = round(bn.cpu_seconds(p.pid) - cpu0, 2)
                line = {"round": r, "code": name, "at": time.strftime("%H:%M:%S"), **res}
                print(json.dumps(line), flush=True)
    finally:
        dev.stop()
    shutil.rmtree(work, ignore_errors=True)  # (kept when the run raised: its logs)


if __name__ == "__main__":
    main()
