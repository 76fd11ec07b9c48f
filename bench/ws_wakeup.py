"""CPU per websocket round trip between two processes: paced (each message finds the other
process asleep) against back to back (the reference, in the same run).

A bare aiohttp websocket echo server in a child process and a client in this one, on
loopback, one 600-byte binary message each way per round trip (about one gossip push of one
order and its answer), nothing else: no JSON, no MAC, no intake. For each ``--rate`` (round
trips per second, 0 = back to back) and each of ``--rounds`` rounds: CPU µs per round trip
of the client (this process) and of the server (``/proc``, clock-tick resolution).

Why: at 20 orders/s a gossiping node spends 2.6–3.1 ms of CPU per order handling about 16
websocket messages, several times what the same calls cost with both ends in one busy
process (``bench/p2p_transport.py``). This measures how much of that is the transport
waking an idle process for each message. The child is stopped by its own PID. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

PAYLOAD = b"x" * 600


async def serve(port: int) -> None:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(port: int, server: int, rates: list[float], rounds: int, n: int) -> list[Any]:
    out = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws,
    ):
        for _, rate in [(r, rate) for r in range(rounds) for rate in rates]:
            count = n if rate else 10 * n
            c0, s0, t0 = time.process_time(), cpu_seconds(server), time.perf_counter()
            for i in range(count):
                if rate:
                    await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
                await ws.send_bytes(PAYLOAD)
                await ws.receive()
            client = time.process_time() - c0
            served = cpu_seconds(server) - s0
            out.append(
                {
                    "rate_per_s": rate or "back-to-back",
                    "round_trips": count,
                    "client_us_per_round_trip": round(client / count * 1e6),
                    "server_us_per_round_trip": round(served / count * 1e6),
                }
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, nargs="+", default=[50.0, 200.0, 0.0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--round-trips", type=int, default=400, help="per paced window")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # bounded wait for the server to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        runs = asyncio.run(measure(port, child.pid, args.rate, args.rounds, args.round_trips))
    finally:
        child.terminate()
        child.wait(timeout=10)
    print(json.dumps({"runs": runs, "load_average": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
