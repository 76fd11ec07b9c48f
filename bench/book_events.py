#!/usr/bin/env python3
"""What book events cost a node's intake: throughput and order-event latency, with and
without a socket following the pair's book, against a reference tree in the same run.

One Hardhat devnet; for each round, in turn (order rotated round by round), a fresh
``sdex node`` process of each variant: ``ref`` (``--ref``, e.g. main, a checkout with its
compiled book built), ``new`` (this tree) and ``new+book`` (this tree, its watcher socket
also subscribed to WETH/USDC's book). Each gets a warm-up of ``--warm`` orders, then the same
``--per-round`` resting orders (non-crossing, 1,000 price levels: nothing settles, so every
node sees the same book), ``--concurrency`` POSTs in flight on keep-alive connections. One
watcher socket (every variant) times each order from the start of its POST to its ``added``
event; in ``new+book`` that socket also follows the pair's book (one socket in every
variant: a second socket would double the order events written, not measure the book).
Per variant: accepted orders per second, POST p50, event p50/p99, the node's CPU per order
(``/proc``), and for ``new+book`` the deltas received and that the rebuilt depth equals
``GET /v1/depth``. Prints JSON (rounds, then medians and the ratios).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import node as nb  # noqa: E402
from benchlib import ab_parser  # noqa: E402

from sdex.devnet import Devnet  # noqa: E402


def on_book(ev: dict[str, Any], state: dict[str, Any], size: int) -> None:
    depth: dict[str, dict[str, str]] = state["depth"]
    state["bytes"] += size
    if ev["event"] == "snapshot":
        for s in ("bids", "asks"):
            depth[s] = {p: a for p, a in ev[s]}
        state["seq"] = ev["seq"]
        state["ready"].set()
        return
    state["deltas"] += 1
    if ev["seq"] != state["seq"] + 1:
        state["gaps"] += 1
    state["seq"] = ev["seq"]
    for s in ("bids", "asks"):
        for p, a in ev[s]:
            if a == "0":
                depth[s].pop(p, None)
            else:
                depth[s][p] = a


async def one(
    url: str, pid: int, warm: list[bytes], bodies: list[tuple[str, bytes]], book: bool, conc: int
) -> dict[str, Any]:
    seen: dict[str, float] = {}
    done = asyncio.Event()
    want = {h for h, _ in bodies}

    async def watch(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            ev = json.loads(msg.data)
            if ev.get("type") == "book":
                on_book(ev, state, len(msg.data))
            elif ev.get("type") == "order" and ev.get("event") == "added":
                h = ev["metaData"]["orderHash"]
                if h in want and h not in seen:
                    seen[h] = time.perf_counter()
                    if len(seen) == len(want):
                        done.set()

    async with nb.session(conc) as s:
        await nb.post_all(s, url + "/v1/orders", warm, conc)
        depth: dict[str, dict[str, str]] = {"bids": {}, "asks": {}}
        state: dict[str, Any] = {"deltas": 0, "gaps": 0, "bytes": 0, "depth": depth}
        state["ready"] = asyncio.Event()
        watcher = await s.ws_connect(url + "/v1/ws")
        task = asyncio.create_task(watch(watcher))
        if book:  # the same socket follows the book too: the book events' own cost
            _, cfg = await get(s, url + "/v1/order_config")
            pair = {"baseToken": cfg["tokens"]["WETH"]["address"]}
            pair["quoteToken"] = cfg["tokens"]["USDC"]["address"]
            await watcher.send_json({"op": "subscribe", "channel": "book", **pair})
            await asyncio.wait_for(state["ready"].wait(), 30)
        started: dict[str, float] = {}
        statuses: dict[int, int] = {}
        post_lat: list[float] = []
        work = iter(bodies)
        cpu0 = nb.cpu_seconds(pid)

        async def worker() -> None:
            for h, b in work:
                t = started[h] = time.perf_counter()
                async with s.post(url + "/v1/orders", data=b, headers=nb.JSON_HEADERS) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                post_lat.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        elapsed = time.perf_counter() - t0
        await asyncio.wait_for(done.wait(), 60)
        cpu = nb.cpu_seconds(pid) - cpu0
        out: dict[str, Any] = {
            "orders_per_s": round(len(bodies) / elapsed, 1),
            "post_p50_ms": nb.pct(post_lat, 0.5),
            "event_p50_ms": nb.pct([seen[h] - started[h] for h in want], 0.5),
            "event_p99_ms": nb.pct([seen[h] - started[h] for h in want], 0.99),
            "node_cpu_us_per_order": round(cpu / len(bodies) * 1e6, 1),
            "statuses": {str(k): v for k, v in statuses.items()},
        }
        if book:
            _, depth = await get(s, url + "/v1/depth", **pair)  # (sends the last delta first)
            want_depth = {side: {p: a for p, a in depth[side]} for side in ("bids", "asks")}
            for _ in range(200):
                if state["depth"] == want_depth:
                    break
                await asyncio.sleep(0.05)
            out["book_deltas"] = state["deltas"]
            out["book_kb"] = round(state["bytes"] / 1024, 1)
            out["book_gaps"] = state["gaps"]
            out["book_rebuilt_equals_rest"] = state["depth"] == want_depth
        task.cancel()
        await watcher.close()
        return out


async def get(s: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    async with s.get(url, params=params or None) as r:
        return r.status, await r.json()


def main() -> None:
    ap = ab_parser(__doc__, repeat=3)
    ap.add_argument("--per-round", type=int, default=2000)
    ap.add_argument("--warm", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=48)
    args = ap.parse_args()
    variants = [("ref", args.ref.resolve(), False), ("new", ROOT, False), ("new+book", ROOT, True)]
    rows: dict[str, list[dict[str, Any]]] = {v[0]: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="sdex-bookev-") as tmp:
        work = Path(tmp)
        dev = Devnet(deployment_path=work / "devnet.json", log_path=work / "hh.log", accounts=20)
        deployment = dev.start()
        try:
            signer, key = nb.devnet_signer(dev, deployment)
            orders = signer.resting(args.warm + args.per_round, list(range(nb.OPERATOR)))
            warm = [nb.body(o) for o in orders[: args.warm]]
            bodies = [(o.hash_hex, nb.body(o)) for o in orders[args.warm :]]
            for r in range(args.repeat):
                turn = variants[r % 3 :] + variants[: r % 3]
                for name, root, book in turn:
                    nb.NODE_ROOT = root
                    with nb.node_process(work / "devnet.json", key, work, f"{name}{r}", None) as (
                        proc,
                        url,
                    ):
                        row = asyncio.run(one(url, proc.pid, warm, bodies, book, args.concurrency))
                    row["round"] = r
                    rows[name].append(row)
                    print(json.dumps({name: row}), flush=True)
        finally:
            dev.stop()
    keys = ("orders_per_s", "post_p50_ms", "event_p50_ms", "event_p99_ms", "node_cpu_us_per_order")
    med = {n: {k: statistics.median(x[k] for x in rs) for k in keys} for n, rs in rows.items()}
    ratios = {
        f"{a}/{b}": {k: round(med[a][k] / med[b][k], 3) for k in keys}
        for a, b in (("new", "ref"), ("new+book", "new"), ("new+book", "ref"))
    }
    print(json.dumps({"medians": med, "ratios": ratios, "machine": nb.machine()}, indent=2))


if __name__ == "__main__":
    main()
