"""The event loop's longest stall while the send client reads one hostile answer: a
receipt-shaped JSON of ~30 MB (under the old 32 MB bound, so read and parsed whole) read by
a client bounded at 32 MB (main's send client) and at ``SEND_MAX_RESPONSE`` (sends31's),
alternated; and the stall of a real-sized answer (a receipt of 64 matches with fees) and of
the largest the bounded client still parses (``edge``).

The answers come from a server in a subprocess on loopback (its writing does not run on
the measured loop). Prints JSON: per pair the longest gap between two turns of the loop
(ms) and the call's time, and the ratio of the 32 MB client's stall to the bounded one's.

    PYTHONPATH=$PWD .venv/bin/python bench/sends31_bound.py --pairs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.benchlib import machine
from sdex.chain.arpc import SEND_MAX_RESPONSE, AsyncRpc
from sdex.chain.rpc import MAX_RESPONSE

SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
bodies = {f"/{n}": open(p, "rb").read() for n, p in zip(("big", "real", "edge"), sys.argv[1:])}
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = bodies[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def receipt(logs: int) -> bytes:
    """A receipt-shaped JSON-RPC answer with ``logs`` logs (~700 bytes each, as Hardhat's)."""
    h = "0x" + "ab" * 32
    log = {
        "address": "0x" + "12" * 20,
        "topics": [h, h, h],
        "data": "0x" + "00" * 64,
        "blockHash": h,
        "blockNumber": "0x1f",
        "transactionHash": h,
        "transactionIndex": "0x0",
        "logIndex": "0x0",
        "removed": False,
    }
    result = {
        "transactionHash": h,
        "status": "0x1",
        "logs": [log] * logs,
        "logsBloom": "0x" + "0" * 512,
    }
    return json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}).encode()


async def stall_of(url: str, bound: int) -> dict[str, Any]:
    """The longest loop gap (ms) while one call is read (and parsed, within the bound)."""
    rpc = AsyncRpc(url, max_response=bound)
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0)
            gaps.append(time.perf_counter() - t)

    tick = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    try:
        await rpc.call("eth_getTransactionReceipt", "0x" + "ab" * 32)
        outcome = "parsed"
    except Exception as e:
        outcome = type(e).__name__
    took = time.perf_counter() - t0
    done.set()
    await tick
    await rpc.close()
    return {
        "stall_ms": round(max(gaps) * 1000, 2),
        "call_ms": round(took * 1000, 1),
        "outcome": outcome,
    }


async def run(pairs: int, port: int) -> dict[str, Any]:
    big, real = f"http://127.0.0.1:{port}/big", f"http://127.0.0.1:{port}/real"
    edge = f"http://127.0.0.1:{port}/edge"
    out: list[dict[str, Any]] = []
    for i in range(pairs):
        order = [("main_32MB", MAX_RESPONSE), ("sends31", SEND_MAX_RESPONSE)]
        if i % 2:
            order.reverse()
        row: dict[str, Any] = {}
        for name, bound in order:
            row[name] = await stall_of(big, bound)
        row["real_receipt_sends31"] = await stall_of(real, SEND_MAX_RESPONSE)
        row["edge_sends31"] = await stall_of(edge, SEND_MAX_RESPONSE)
        row["ratio"] = round(row["main_32MB"]["stall_ms"] / row["sends31"]["stall_ms"], 1)
        out.append(row)
    ratios = [r["ratio"] for r in out]
    return {
        "machine": machine(),
        "hostile_bytes": None,
        "pairs": out,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big_path, real_path = Path(tmp) / "big.json", Path(tmp) / "real.json"
        edge_path = Path(tmp) / "edge.json"
        per_log = len(receipt(1001)) - len(receipt(1000))
        big = receipt(30 * 1024 * 1024 // per_log)
        big_path.write_bytes(big)
        real_path.write_bytes(receipt(384))
        edge = receipt((SEND_MAX_RESPONSE - 4096) // per_log)  # (the most it parses)
        edge_path.write_bytes(edge)
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(big_path), str(real_path), str(edge_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # (the refused answers' resets)
            text=True,
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            result = asyncio.run(run(args.pairs, port))
        finally:
            server.terminate()
            server.wait(10)
    result["hostile_bytes"] = len(big)
    result["real_bytes"] = len(receipt(384))
    result["edge_bytes"] = len(edge)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
