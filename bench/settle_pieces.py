"""The node's CPU a settled match in the pieces anvil50 changed, this tree against a
reference tree (``--reference``, default ``/work/main``), alternated in one run: each side
in its own process (``PYTHONPATH`` its tree), thread CPU, best of 7 repeats a piece.

Pieces, a batch of 100 matches: ``receipt`` (its 600 logs read from the JSON-RPC answer's
dicts, ``logs_from_rpc``; its fills decoded and made the node's stored fills, as the
settler and ``NodeSettlement._on_settled`` do), ``fill_events`` (the two fill events a
match: published and their websocket text made), ``calldata`` (``encode_batch``). The
JSON parse itself is the same on both sides and not timed. Prints JSON: µs a match each
side, by round, and the medians' ratios (this / reference).

``python bench/settle_pieces.py [--rounds 3] [--reference /work/main]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIECES = ("receipt", "fill_events", "calldata")


def measure() -> dict[str, float]:
    """The pieces in this process (the tree on ``sys.path``), µs a match."""
    import functools
    import random
    import time

    import sdex.node.settle as settle

    try:  # (the fills' own module since split63; in settle before)
        import sdex.node.settlefills as fills  # type: ignore[import-not-found,unused-ignore]

        own, publish = fills.own_fills, fills.publish_fill
    except ImportError:
        own, publish = settle._own, settle._publish_fill  # type: ignore[attr-defined,unused-ignore]
    from sdex.chain.exchange import Exchange
    from sdex.chain.receipt import logs_from_rpc
    from sdex.node import events
    from sdex.order import Order, SignedOrder

    rng = random.Random(1)

    def h(n: int) -> str:
        return "0x" + rng.randbytes(n).hex()

    def pad(a: str) -> str:
        return "0x" + "00" * 12 + a[2:]

    def word(v: int) -> str:
        return v.to_bytes(32, "big").hex()

    tx, ex_addr, fee_to = h(32), h(20), "0x" + "11" * 20
    tokens, makers = [h(20), h(20)], [h(20) for _ in range(40)]
    transfer, filled = h(32), h(32)
    logs: list[dict[str, object]] = []
    for m in range(100):  # (as a batch's receipt: 4 transfers and 2 fills a match)
        a, b = makers[2 * (m % 20)], makers[2 * (m % 20) + 1]
        moves = ((0, a, b), (1, b, a), (0, a, fee_to), (1, b, fee_to))
        for t, src, dst in moves:
            logs.append({"address": tokens[t], "topics": [transfer, pad(src), pad(dst)],
                         "data": "0x" + word(10**18)})  # fmt: skip
        for who, other in ((a, b), (b, a)):
            data = "0x" + word(10**18) + word(3 * 10**17) + "00" * 12 + fee_to[2:] + word(0)
            logs.append({"address": ex_addr, "topics": [filled, h(32), pad(who), pad(other)],
                         "data": data})  # fmt: skip
    for i, lg in enumerate(logs):
        lg.update({"blockHash": h(32), "blockNumber": "0x1234", "transactionHash": tx,
                   "transactionIndex": "0x0", "logIndex": hex(i), "removed": False})  # fmt: skip
    ex = Exchange.__new__(Exchange)
    ex.address, ex._fill_topic = ex_addr, bytes.fromhex(filled[2:])
    ex._batch_selector = b"\x12\x34\x56\x78"
    orders = [
        SignedOrder(
            Order(makers[i % 40], "0x" + "00" * 20, tokens[i % 2], tokens[1 - i % 2],
                  10**18 + i, 3 * 10**17, fee_to, 0, 2**40, rng.getrandbits(200)),
            bytes(65), bytes([i % 256]) * 32,
        )
        for i in range(200)
    ]  # fmt: skip
    matches = [(orders[2 * k], orders[2 * k + 1], 10**18) for k in range(100)]
    new = hasattr(ex, "fills_as")

    def receipt() -> list[object]:
        got = logs_from_rpc(logs)  # type: ignore[arg-type]
        if new:
            from sdex.store import own_fill  # type: ignore[attr-defined,unused-ignore]

            return list(own(ex.fills_as(got, own_fill)))  # type: ignore[attr-defined,unused-ignore]
        from sdex.node.views import _stored_fills

        return list(_stored_fills(ex.fills(got), ours=True))

    stored = receipt()

    def fill_events() -> None:
        hub = events.EventHub()
        sub = hub.subscribe()
        for f in stored:
            if new:
                publish(hub, f)  # type: ignore[arg-type,unused-ignore]
            else:
                hub.publish_lazy(functools.partial(settle._fill_event, f))  # type: ignore[arg-type]
        sub.ready_texts(len(stored))

    def calldata() -> None:
        ex.encode_batch(matches)

    out = {}
    for name, fn in zip(PIECES, (receipt, fill_events, calldata), strict=True):
        best = float("inf")
        for _ in range(7):
            t = time.thread_time()
            for _ in range(20):
                fn()
            best = min(best, (time.thread_time() - t) / 20)
        out[name] = round(best * 1e6 / 100, 2)
    return out


def run_side(tree: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--measure"], env=env, cwd=tree,
                          capture_output=True, text=True, check=True, timeout=300)  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reference", type=Path, default=Path("/work/main"))
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure()))
        return
    rounds = []
    for k in range(args.rounds):  # (each round in the other order)
        sides = [("this", ROOT), ("reference", args.reference)]
        got = {name: run_side(tree) for name, tree in (sides if k % 2 == 0 else sides[::-1])}
        rounds.append(got)
    med = {
        side: {p: statistics.median(r[side][p] for r in rounds) for p in PIECES}
        for side in ("this", "reference")
    }
    total = {side: round(sum(med[side].values()), 2) for side in med}
    print(json.dumps({
        "us_a_match_by_round": rounds,
        "median_us_a_match": med,
        "ratio_this_over_reference": {p: round(med["this"][p] / med["reference"][p], 3)
                                      for p in PIECES},
        "sum_us_a_match": total,
        "saved_us_a_match": round(total["reference"] - total["this"], 2),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
