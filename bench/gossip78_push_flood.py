#!/usr/bin/env python3
"""A wallet's throughput with and without one admitted peer's push flood (gossip78).

One Hardhat devnet; a real ``sdex node`` in its own process (``--ref-root``'s checkout and
this one's, alternated, ``--rounds`` each, a fresh database each). A wallet posts resting
orders of makers 0-8 with ``--concurrency`` in flight for ``--seconds`` (``quiet``); then
again while an admitted peer (a real gossip driver on loopback in this process, admitted by
the node's hello) pushes valid but worthless orders (makers 9-18, resting 3.00-5.00 USDC
from the mid, ``--batch`` a push, ``--flood`` pushes in flight, a refused one sent again at
once, or after ``--pause`` seconds) over signed HTTP (``flood``). Each phase: the wallet's
accepted orders a second, the flooder's orders accepted a second, the node's CPU a second
(its process), and the ratio flood / quiet of the wallet's rate; ``ratio_per_node_cpu``
(flood79): the same of the wallet's orders a CPU second of the node's process (the share of
the node's work the flood left the wallet, whatever CPU the crowded machine gave the node in
each phase), and this process's own CPU a second (the wallet's and the flooder's clients).
Orders are signed before any timing. Prints JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
import node as nb  # noqa: E402

from sdex.gossip import GossipConfig  # noqa: E402
from sdex.gossip.client import PeerClient  # noqa: E402
from tests.p2putil import serve_gossip  # noqa: E402

WALLET_MAKERS = range(0, 9)
FLOOD_MAKERS = list(range(9, 19))


def far(signer: nb.Signer, n: int) -> list[dict[str, Any]]:
    """``n`` resting orders 3.00-5.00 USDC from the mid (worth nothing to a taker)."""
    out = []
    for i in range(n):
        ask, ticks = i % 2 == 0, 300 + (i // 2) % 200
        maker = FLOOD_MAKERS[i % len(FLOOD_MAKERS)]
        out.append(signer.order(maker, ask, nb.MID + ticks if ask else nb.MID - ticks).to_json())
    return out


async def wallet(url: str, bodies: list[bytes], seconds: float, concurrency: int) -> int:
    async with nb.session(concurrency) as s:
        got = await nb.post_all(
            s, url + "/v1/orders", bodies, concurrency, time.perf_counter() + seconds
        )
    return int(got["statuses"].get("201", 0))


async def flood(
    client: PeerClient,
    url: str,
    to: str,
    orders: list[dict[str, Any]],
    batch: int,
    inflight: int,
    stop: asyncio.Event,
    tally: dict[str, int],
    pause: float = 0.0,
) -> None:
    pushes = itertools.cycle([orders[k : k + batch] for k in range(0, len(orders), batch)])

    async def one() -> None:
        while not stop.is_set():
            got = await client.call("POST", url, "/p2p/orders", {"orders": next(pushes)}, to=to)
            tally[str(got.status)] = tally.get(str(got.status), 0) + 1
            if got.status == 429 and pause:  # (its client's CPU is this machine's too)
                await asyncio.sleep(pause)
            if got.status == 200 and isinstance(got.body, dict):
                tally["accepted"] = tally.get("accepted", 0) + int(got.body.get("accepted", 0))

    await asyncio.gather(*(one() for _ in range(inflight)))


async def phases(
    url: str,
    pid: int,
    wallet_bodies: list[bytes],
    flood_orders: list[dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    member = await serve_gossip(GossipConfig(dial_interval=0.1, ae_interval=1e6), [url])
    await member.gossip.start()
    try:
        async with asyncio.timeout(60):
            while not member.gossip.peers.others(None):
                await asyncio.sleep(0.05)
        to = member.gossip.peers.others(None)[0].key
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, member.gossip.key, member.url)
            half = len(wallet_bodies) // 2
            for name, bodies in (("quiet", wallet_bodies[:half]), ("flood", wallet_bodies[half:])):
                stop, tally = asyncio.Event(), {}
                flooding = None
                if name == "flood":
                    flooding = asyncio.create_task(
                        flood(
                            client,
                            url,
                            to,
                            flood_orders,
                            args.batch,
                            args.flood,
                            stop,
                            tally,
                            args.pause,
                        )
                    )
                    await asyncio.sleep(0.5)  # (the flood under way)
                cpu0, t0 = nb.cpu_seconds(pid), time.perf_counter()
                own0 = nb.cpu_seconds(os.getpid())
                accepted = await wallet(url, bodies, args.seconds, args.concurrency)
                wall = time.perf_counter() - t0
                cpu = nb.cpu_seconds(pid) - cpu0
                own = nb.cpu_seconds(os.getpid()) - own0
                stop.set()
                if flooding is not None:
                    await flooding
                out[name] = {
                    "wallet_per_s": round(accepted / wall, 1),
                    "node_cpu_per_s": round(cpu / wall, 3),
                    "wallet_per_node_cpu_s": round(accepted / max(1e-9, cpu), 1),
                    "bench_cpu_per_s": round(own / wall, 3),  # (the wallet's and flooder's)
                    "flood": tally,
                    "flood_accepted_per_s": round(tally.get("accepted", 0) / wall, 1),
                }
            async with session.get(url + "/health") as r:
                health = await r.json()
            out["peerRequests"] = health.get("gossip", {}).get("peerRequests")
    finally:
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    out["ratio"] = round(out["flood"]["wallet_per_s"] / max(1e-9, out["quiet"]["wallet_per_s"]), 3)
    per_cpu = [out[k]["wallet_per_node_cpu_s"] for k in ("flood", "quiet")]
    out["ratio_per_node_cpu"] = round(per_cpu[0] / max(1e-9, per_cpu[1]), 3)  # (flood79)
    out["loadavg"] = [round(x, 1) for x in os.getloadavg()]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref-root", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--flood", type=int, default=8)
    ap.add_argument("--pause", type=float, default=0.0, help="the flooder's wait after a 429")
    ap.add_argument("--wallet-orders", type=int, default=4000)
    ap.add_argument("--flood-orders", type=int, default=9000)
    args = ap.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"new": [], "ref": []}
    with nb.signed_devnet("sdex-gossip78-") as (work, _dev, _deployment, signer, key):
        wallet_bodies = [nb.body(o) for o in signer.resting(args.wallet_orders, WALLET_MAKERS)]
        flood_orders = far(signer, args.flood_orders)
        for r in range(args.rounds):
            order = [("new", HERE.parent), ("ref", args.ref_root)]
            for name, root in order if r % 2 == 0 else order[::-1]:
                nb.NODE_ROOT = root.resolve()
                with nb.node_process(work / "devnet.json", key, work, f"{name}{r}", None) as (
                    proc,
                    url,
                ):
                    got = asyncio.run(phases(url, proc.pid, wallet_bodies, flood_orders, args))
                runs[name].append(got)
                print(json.dumps({"tree": name, "round": r, **got}), file=sys.stderr, flush=True)
    print(
        json.dumps({"runs": runs, "ratios": {k: [x["ratio"] for x in v] for k, v in runs.items()}})
    )


if __name__ == "__main__":
    main()
