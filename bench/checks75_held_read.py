#!/usr/bin/env python3
"""Peers' checks with one slow chain read: an honest peer's order latency with and without a
held read, and the event loop's CPU per peer order (checks75).

One process, one devnet, one node whose RPC goes through a loopback proxy. ``cpu`` rounds:
``--per-round`` fresh orders of known makers pushed by ``--senders`` peers at once in pushes
of ``--chunk`` through the node's gossip driver (``Gossip.run_check``: the check queue and
the intake), the loop thread's CPU per order. ``latency``: an honest peer pushes one order
of a known maker every ``--every`` seconds (not waiting for the answers), ``--pushes`` of
them, each push's wall time from its check to its answer; ``quiet``: nothing else;
``held``: first a hostile peer pushes one order of a first-seen maker whose chain read the
proxy holds ``--hold`` seconds (an RPC slow on that call, or a contract wallet's slow
view). ``--root DIR`` runs another checkout's ``sdex`` (a before/after in the same minutes:
run it from both, alternated). Prints JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # before any ``sdex`` import
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))
import sdex  # noqa: E402  (first: bench/node.py puts its own checkout on the path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
import node as nb  # noqa: E402
from aiohttp import web  # noqa: E402
from http_modes import devnet_node  # noqa: E402

from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402
from sdex.order import sign_order  # noqa: E402
from sdex.signature import address_of  # noqa: E402

JSON = {"Content-Type": "application/json"}


@asynccontextmanager
async def holding_proxy(upstream: str) -> AsyncIterator[dict[str, Any]]:
    """A forwarder to ``upstream``; an ``eth_call`` naming ``state["needle"]`` is answered
    ``state["hold"]`` seconds late (``state["held"]``: how many were)."""
    state: dict[str, Any] = {"needle": None, "hold": 0.0, "held": 0}
    session = aiohttp.ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        needle = state["needle"]
        hold = needle is not None and b"eth_call" in body and needle.encode() in body.lower()
        async with session.post(upstream, data=body, headers=JSON) as r:
            answer = await r.read()
        if hold:
            state["held"] += 1
            await asyncio.sleep(state["hold"])
        return web.Response(body=answer, content_type="application/json")

    app = web.Application(client_max_size=1 << 22)
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        state["url"] = f"http://{host}:{port}/"
        yield state
    finally:
        await runner.cleanup()
        await session.close()


async def check(g: Any, sender: str, objs: list[object]) -> dict[str, int]:
    return await g.run_check(g.core.receive(sender, objs))  # type: ignore[no-any-return]


async def honest(g: Any, signer: nb.Signer, i: int, every: float) -> float:
    """The honest peer's ``i``-th push (one order of a known maker), ``i * every`` seconds
    from now, whatever the pushes before it wait for: its wall time, ms."""
    one = signer.order(i % nb.OPERATOR, i % 2 == 0, nb.MID + 1 + i % 400).to_json()
    await asyncio.sleep(i * every)
    t = time.perf_counter()
    got = await check(g, "honest", [one])
    if got["accepted"] != 1:
        raise RuntimeError(f"honest order not accepted: {got}")
    return 1e3 * (time.perf_counter() - t)


async def run(cfg: NodeConfig, signer: nb.Signer, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"cpu_us": [], "quiet_ms": [], "held_ms": []}
    async with holding_proxy(cfg.rpc) as proxy, serve(replace(cfg, rpc=proxy["url"])) as node:
        g = node.gossip
        while not node.mirror_ready():
            await asyncio.sleep(0.05)
        makers = list(range(nb.OPERATOR))
        warm = [o.to_json() for o in signer.resting(len(makers), makers)]
        await check(g, "warm", warm)  # (each maker's account read once: known after)
        senders = [f"peer-{i}" for i in range(args.senders)]
        for r in range(args.repeat + 1):
            objs = [o.to_json() for o in signer.resting(args.per_round, makers)]
            pushes = [objs[k : k + args.chunk] for k in range(0, len(objs), args.chunk)]
            t0 = time.thread_time()
            got = await asyncio.gather(
                *(check(g, senders[i % len(senders)], p) for i, p in enumerate(pushes))
            )
            await asyncio.sleep(0.25)  # (the lazy store hand-over and its commit)
            loop_s = time.thread_time() - t0
            if sum(x["accepted"] for x in got) != len(objs):
                raise RuntimeError(f"not all accepted: {got}")
            if r:  # (the first: warm-up)
                out["cpu_us"].append(round(1e6 * loop_s / len(objs), 1))
        for mode in ("quiet", "held", "quiet", "held"):
            hostile = None
            if mode == "held":
                key = os.urandom(32)
                maker = address_of(key)
                proxy["needle"], proxy["hold"] = maker.lower().removeprefix("0x"), args.hold
                base = signer.order(0, True, nb.MID + 7)
                o = replace(base.order, maker=maker)
                bad = sign_order(o, signer.domain, key).to_json()
                held = proxy["held"]
                hostile = asyncio.create_task(check(g, "hostile", [bad]))
                while proxy["held"] == held:  # (its read is at the proxy)
                    await asyncio.sleep(0.005)
            lat = await asyncio.gather(
                *[honest(g, signer, i, args.every) for i in range(args.pushes)]
            )
            if hostile is not None:
                await hostile
            out[f"{mode}_ms"].extend(round(x, 2) for x in lat)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-round", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--pushes", type=int, default=40)
    ap.add_argument("--every", type=float, default=0.05)
    ap.add_argument("--hold", type=float, default=1.0)
    ap.add_argument("--root", help="run this checkout's sdex (default: this file's)")
    args = ap.parse_args()
    with devnet_node("sdex-checks75-") as (_, signer, cfg):
        out = asyncio.run(run(cfg, signer, args))
    q = sorted(out["quiet_ms"])
    h = sorted(out["held_ms"])

    def pct(xs: list[float], p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 2)

    print(
        json.dumps(
            {
                "sdex": str(Path(sdex.__file__).parent),
                "loop_cpu_us_per_order": out["cpu_us"],
                "loop_cpu_us_median": statistics.median(out["cpu_us"]),
                "honest_ms_quiet": {"p50": pct(q, 0.5), "p90": pct(q, 0.9), "max": q[-1]},
                "honest_ms_held": {"p50": pct(h, 0.5), "p90": pct(h, 0.9), "max": h[-1]},
                "honest_pushes_over_100ms": {
                    "quiet": sum(x > 100 for x in q),
                    "held": sum(x > 100 for x in h),
                },
                "hold_s": args.hold,
                "loadavg": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
