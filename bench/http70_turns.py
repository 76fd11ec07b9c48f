#!/usr/bin/env python3
"""What answering in a later loop turn costs an aiohttp ``POST`` (issue 11, http70).

A node reads a wallet order's body in one turn and writes its answer in a later one, after
its row's commit (the store's writer thread wakes the loop: ``call_soon_threadsafe``). The
trivial handler (bench/trivial_server.py) answers in the turn it read the body. Three
handlers in a server process of their own, the same client (bench/node.py's ``post_all``,
``--concurrency`` keep-alive requests in flight) and the same bodies, rounds alternated:

- ``now``: the trivial handler (parse, answer);
- ``soon``: the same, its answer after one more loop turn (a future set by ``call_soon``);
- ``thread``: its answer after a future a thread sets, one hand-over a turn for all the
  turn's requests and one wake-up back, as the store's writer commits a group.

The server's CPU a request for each (``/proc``), and the other processes' cores. Prints
a JSON line per round, then the medians."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import argparse
import asyncio
import json
import queue
import statistics
import subprocess
import threading
import time
from typing import Any

from aiohttp import web
from benchlib import machine_busy_seconds
from node import answering, cpu_seconds, post_all, session

from sdex.devnet import free_port

MODES = ("now", "soon", "thread")


def serve(port: int, mode: str) -> None:
    """A server answering ``POST /v1/orders`` as ``mode`` says (run in its own process)."""
    jobs: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, list[asyncio.Future[None]]]] = (
        queue.SimpleQueue()
    )
    pending: list[asyncio.Future[None]] = []

    def writer() -> None:
        while True:
            loop, futs = jobs.get()
            loop.call_soon_threadsafe(_settle, futs)

    def hand_over() -> None:
        batch = pending[:]
        pending.clear()
        jobs.put((asyncio.get_running_loop(), batch))

    async def post_order(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if mode != "now":
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[None] = loop.create_future()
            if mode == "soon":
                loop.call_soon(_settle, [fut])
            else:
                if not pending:
                    loop.call_soon(hand_over)
                pending.append(fut)
            await fut
        return web.json_response({"salt": body.get("salt")}, status=201)

    threading.Thread(target=writer, daemon=True).start()
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/v1/orders", post_order)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _settle(futs: list[asyncio.Future[None]]) -> None:
    for f in futs:
        if not f.done():
            f.set_result(None)


async def one_round(mode: str, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), mode], stdin=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/orders"
        async with session(concurrency) as s:
            await answering(s, url, bodies[0])
            await post_all(s, url, bodies[:500], concurrency)  # warm-up
            c0, m0, w0 = cpu_seconds(proc.pid), machine_busy_seconds(), time.monotonic()
            p0 = time.process_time()
            out = await post_all(s, url, bodies, concurrency)
            cpu = cpu_seconds(proc.pid) - c0
            wall, busy = time.monotonic() - w0, machine_busy_seconds() - m0
            mine = time.process_time() - p0
            return {
                "mode": mode,
                "server_cpu_us": round(1e6 * cpu / len(bodies), 1),
                "per_s": round(len(bodies) / out["seconds"]),
                "others_cores": round(max(0.0, busy - cpu - mine) / wall, 2),
            }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=8000)
    ap.add_argument("--concurrency", type=int, default=48)
    ap.add_argument("--repeat", type=int, default=4)
    args = ap.parse_args()
    body = {"salt": "0", "makerToken": "0x" + "11" * 20, "signature": "0x" + "ab" * 65}
    bodies = [json.dumps({**body, "salt": str(i)}).encode() for i in range(args.requests)]
    out = []
    for r in range(args.repeat):
        for mode in MODES if r % 2 == 0 else MODES[::-1]:
            row = asyncio.run(one_round(mode, bodies, args.concurrency))
            out.append(row)
            print(json.dumps(row), flush=True)
    medians = {
        m: {
            k: statistics.median(r[k] for r in out if r["mode"] == m) for k in out[0] if k != "mode"
        }
        for m in MODES
    }
    print(json.dumps({"medians": medians}))


if __name__ == "__main__":
    main()
