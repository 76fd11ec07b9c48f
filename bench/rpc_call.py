#!/usr/bin/env python3
"""The sync JSON-RPC client's cost per call (``sdex.chain.rpc.Rpc.call``), against a loopback
keep-alive server in its own process that answers every request at once with a fixed answer
(so the figure is the client's: ``requests``, ``urllib3``, the deadline, the JSON).

    PYTHONPATH=<build> python bench/rpc_call.py [--calls N] [--rounds R]

Prints the median over rounds of wall and client-CPU microseconds per call. Run it with
PYTHONPATH at two builds, alternated, to compare them (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import threading
import time


def serve() -> None:
    """The server: every request on every connection answered with one fixed result."""
    listener = socket.create_server(("127.0.0.1", 0))
    sys.stdout.write(f"{listener.getsockname()[1]}\n")
    sys.stdout.flush()
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def answer(conn: socket.socket) -> None:
    with conn, conn.makefile("rb") as f:
        while True:
            length = 0
            if not f.readline():
                return
            while (line := f.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            req_id = json.loads(f.read(length))["id"]
            body = json.dumps({"jsonrpc": "2.0", "id": req_id, "result": "0x1234"}).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve()
        return
    from sdex.chain import rpc

    rpc.IDLE_REUSE = 1e9  # (one connection throughout: the figure is per call, not connect)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        client = rpc.Rpc(f"http://127.0.0.1:{port}/", timeout=30.0)
        for _ in range(200):  # warm up
            client.call("eth_blockNumber")
        walls, cpus = [], []
        for _ in range(args.rounds):
            w, c = time.perf_counter(), time.process_time()
            for _ in range(args.calls):
                client.call("eth_blockNumber")
            walls.append((time.perf_counter() - w) / args.calls * 1e6)
            cpus.append((time.process_time() - c) / args.calls * 1e6)
        client.close()
        print(
            f"wall {statistics.median(walls):.1f} us/call, "
            f"client CPU {statistics.median(cpus):.1f} us/call"
        )
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
