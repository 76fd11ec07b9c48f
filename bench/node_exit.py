#!/usr/bin/env python3
"""How long an ``sdex node`` process takes to exit after SIGTERM, against a reference tree in
the same run.

One Hardhat devnet; for each round, in turn (order rotated round by round), a fresh node
process of each variant: ``ref`` (``--ref``, e.g. main, a checkout with its compiled book
built) and ``new`` (this tree). Each takes ``--orders`` resting orders (non-crossing: the
heap of a node that holds a book), and ``--stalled`` websocket subscribers that never read
after the upgrade (a client that stopped reading), then is sent SIGTERM; measured: from the
signal to the process's exit (``waitpid``). Prints JSON (rounds, then medians and the ratio
new/ref).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import node as nb  # noqa: E402
from benchlib import ab_parser, ab_variants, alternated  # noqa: E402


def stalled_subscriber(url: str) -> socket.socket:
    """A websocket to ``url``'s ``/v1/ws`` that reads its upgrade's answer and nothing more."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        f"GET /v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )  # fmt: skip
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return s


def post_all(url: str, orders: list[bytes]) -> None:
    headers = {"Content-Type": "application/json"}
    with requests.Session() as s:
        for b in orders:
            got = s.post(url + "/v1/orders", data=b, headers=headers, timeout=30)
            assert got.status_code == 201, got.text


def main() -> None:
    ap = ab_parser(__doc__, repeat=5)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--stalled", type=int, default=0, help="subscribers that never read")
    args = ap.parse_args()
    variants = ab_variants(args.ref)
    rows: dict[str, list[float]] = {v[0]: [] for v in variants}
    with nb.signed_devnet("sdex-exit-") as (work, _, _, signer, key):
        orders = [nb.body(o) for o in signer.resting(args.orders, list(range(nb.OPERATOR)))]
        for r in range(args.repeat):
            for name, root in alternated(variants, r):
                nb.NODE_ROOT = root
                with nb.node_process(work / "devnet.json", key, work, f"{name}{r}", None) as (
                    proc,
                    url,
                ):
                    post_all(url, orders)
                    held = [stalled_subscriber(url) for _ in range(args.stalled)]
                    began = time.monotonic()
                    proc.send_signal(signal.SIGTERM)
                    code = proc.wait(timeout=60)
                    took = time.monotonic() - began
                    for sock in held:
                        sock.close()
                assert code == 0, (name, code)
                rows[name].append(took)
                print(json.dumps({"round": r, name: round(took, 4)}), flush=True)
    med = {n: round(statistics.median(v), 4) for n, v in rows.items()}
    out: dict[str, Any] = {
        "exit_s": rows,
        "medians": med,
        "new/ref": round(med["new"] / med["ref"], 3),
        "machine": nb.machine(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
