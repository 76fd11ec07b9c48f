"""``sdex.jsonio.loads`` of the documents the node reads most, this tree against a reference
tree (``--ref``, main's checkout by default), each side in its own process, alternated A/B
``--pairs`` times, in thread CPU time (a busy machine stretches it less). Each side also
times the bare parse (``JSONDecoder.decode`` of the decoded text): what ``loads`` adds is its
size and depth check (the count of opening brackets, the walk of the parsed value). Prints
JSON.

``python bench/json_walk.py [--ref /work/main] [--pairs 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def documents() -> dict[str, tuple[bytes, int, int, bool]]:
    """name -> (body, max_bytes, max_depth, floats), as the node reads them."""
    rng = random.Random(1)

    def h(n: int) -> str:
        return "0x" + rng.randbytes(n).hex()

    def order() -> dict[str, str]:
        return {"maker": h(20), "taker": "0x" + "00" * 20, "makerToken": h(20),
                "takerToken": h(20), "makerAmount": str(10**18), "takerAmount": str(3 * 10**21),
                "feeRecipient": h(20), "feeAmount": "0", "expiry": "1900000000",
                "salt": str(rng.getrandbits(200)), "signature": h(65)}  # fmt: skip

    logs = [
        {"address": h(20), "topics": [h(32), h(32), h(32)], "data": h(96),
         "blockNumber": "0x1234", "transactionHash": h(32), "transactionIndex": "0x0",
         "blockHash": h(32), "logIndex": hex(i), "removed": False}
        for i in range(600)
    ]  # fmt: skip
    receipt = {"jsonrpc": "2.0", "id": 7, "result": {
        "blockHash": h(32), "blockNumber": "0x1234", "contractAddress": None,
        "cumulativeGasUsed": "0x1", "effectiveGasPrice": "0x1", "from": h(20), "gasUsed": "0x1",
        "logs": logs, "logsBloom": h(256), "status": "0x1", "to": h(20),
        "transactionHash": h(32), "transactionIndex": "0x0", "type": "0x2"}}  # fmt: skip
    return {
        "a wallet's order (POST /v1/orders)": (json.dumps(order()).encode(), 64 << 10, 8, False),
        "a peer's push of 64 orders": (
            json.dumps({"orders": [order() for _ in range(64)]}).encode(),
            4 << 20,
            9,
            False,
        ),
        "a receipt of 100 matches (600 logs)": (json.dumps(receipt).encode(), 64 << 20, 32, True),
        "hostile: a wallet's 64 KiB of [ (refused)": (b"[" * (64 << 10), 64 << 10, 8, False),
        "hostile: a wallet's 64 KiB of [[]] (refused)": (b"[[]]" * (16 << 10), 64 << 10, 1, False),
    }


def best_us(fn: Callable[[], object], rounds: int, number: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.thread_time()
        for _ in range(number):
            fn()
        best = min(best, (time.thread_time() - t) / number)
    return best * 1e6


def child(rounds: int) -> None:
    """One side: the tree on ``PYTHONPATH``; µs a document, best of ``rounds``."""
    from sdex import jsonio

    out = {}
    for name, (raw, max_bytes, max_depth, floats) in documents().items():
        number = max(5, 2_000_000 // len(raw))
        decoder = json.JSONDecoder() if floats else jsonio._STRICT

        def read(r: bytes = raw, b: int = max_bytes, d: int = max_depth, f: bool = floats) -> None:
            with contextlib.suppress(ValueError):  # (JsonLimitError: a hostile body, refused)
                jsonio.loads(r, max_bytes=b, max_depth=d, floats=f)

        def parse(r: bytes = raw, dec: json.JSONDecoder = decoder) -> None:
            with contextlib.suppress(ValueError, RecursionError):
                dec.decode(r.decode("utf-8"))

        loads = best_us(read, rounds, number)
        bare = best_us(parse, rounds, number)
        out[name] = {"loads_us": loads, "parse_us": bare}
    print(json.dumps(out))


def side(tree: Path, rounds: int) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": str(tree), "SDEX_PURE": "1"}
    run = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "--rounds", str(rounds)],
        env=env, cwd=tree, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    got: dict[str, dict[str, float]] = json.loads(run.stdout)
    return got


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", type=Path, default=Path("/work/main"))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    if a.child:
        child(a.rounds)
        return
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"ref": [], "this": []}
    for _ in range(a.pairs):  # A/B alternated
        runs["ref"].append(side(a.ref, a.rounds))
        runs["this"].append(side(ROOT, a.rounds))
    rows = {}
    for name in documents():
        ref = [r[name]["loads_us"] for r in runs["ref"]]
        this = [r[name]["loads_us"] for r in runs["this"]]
        parse = [r[name]["parse_us"] for r in runs["ref"] + runs["this"]]
        rows[name] = {
            "ref_loads_us": [round(v, 2) for v in ref],
            "this_loads_us": [round(v, 2) for v in this],
            "parse_us_median": round(statistics.median(parse), 2),
            "this_over_ref": [round(t / r, 3) for t, r in zip(this, ref, strict=True)],
            "check_over_parse": {
                "ref": round(statistics.median(ref) / statistics.median(parse) - 1, 3),
                "this": round(statistics.median(this) / statistics.median(parse) - 1, 3),
            },
        }
    print(json.dumps({"ref": str(a.ref), "this": str(ROOT), "pairs": a.pairs, "docs": rows},
                     indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
