"""The piece anvil83 cut, timed in this tree and a reference tree, alternated: the async
client's send of a settlement's raw transaction (``AsyncRpc.call("eth_sendRawTransaction",
raw)`` of ~250 KB of hex: a batch of ~110 matches) to a loopback server that answers at
once, the event loop's thread CPU a call (its body written, posted, the answer read); and
the body's encoding alone (``json.dumps(body).encode()``, what aiohttp's ``json=`` did,
against ``encode_body``). Best of 7, µs; prints JSON.

``python bench/anvil83_pieces.py --ref-root /work/wt/old --rounds 5``"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SERVER = r"""
import sys
from aiohttp import web
async def handle(request):
    body = await request.read()
    return web.json_response({"jsonrpc": "2.0", "id": 1, "result": "0x" + "ab" * 32})
app = web.Application(client_max_size=8 << 20)
app.router.add_post("/", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""

CHILD = r"""
import asyncio, json, os, sys, time
from sdex.chain.arpc import AsyncRpc
url, size, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
RAW = "0x" + os.urandom(size).hex()
body = {"jsonrpc": "2.0", "id": 7, "method": "eth_sendRawTransaction", "params": [RAW]}
async def main():
    rpc = AsyncRpc(url)
    await rpc.call("eth_sendRawTransaction", RAW)
    best = []
    for _ in range(7):
        t = time.thread_time()
        for _ in range(calls):
            await rpc.call("eth_sendRawTransaction", RAW)
        best.append((time.thread_time() - t) / calls)
    await rpc.close()
    try:
        from sdex.chain.arpc import encode_body
    except ImportError:
        encode_body = lambda b: json.dumps(b).encode()
    enc = []
    for _ in range(7):
        t = time.thread_time()
        for _ in range(calls):
            encode_body(body)
        enc.append((time.thread_time() - t) / calls)
    print(json.dumps({"send_us": 1e6 * min(best), "encode_us": 1e6 * min(enc)}))
asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(root: Path, url: str, size: int, calls: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(size), str(calls)],
        env=env, check=True, capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    return dict(json.loads(out.stdout))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref-root", type=Path, required=True, help="the reference tree")
    ap.add_argument("--rounds", type=int, default=5, help="pairs of processes, alternated")
    ap.add_argument("--bytes", type=int, default=125_000, help="the raw transaction's bytes")
    ap.add_argument("--calls", type=int, default=40, help="calls a timed repeat")
    args = ap.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(100):  # (up within 10 s)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        rows: dict[str, list[dict[str, float]]] = {"new": [], "old": []}
        for k in range(args.rounds):
            order = ("new", "old") if k % 2 == 0 else ("old", "new")
            for side in order:
                root = ROOT if side == "new" else args.ref_root
                rows[side].append(run(root, url, args.bytes, args.calls))
    finally:
        server.terminate()
        server.wait(timeout=10)

    def stat(side: str, key: str) -> list[float]:
        v = [r[key] for r in rows[side]]
        return [round(statistics.median(v), 1), round(min(v), 1), round(max(v), 1)]

    figures = {
        key: {
            "new": stat("new", key),
            "old": stat("old", key),
            "new_over_old": round(stat("new", key)[0] / stat("old", key)[0], 3),
        }
        for key in ("send_us", "encode_us")
    }
    out = {
        "raw_transaction_bytes": args.bytes,
        "load_average": os.getloadavg(),
        "µs a call, [median, min, max] of the rounds' best": figures,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
