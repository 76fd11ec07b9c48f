"""left61: the event loop's own work draining a backlog of soft-cancelled orders into
``CANCELLED_READ``-sized batches (``NodePeering._read_cancelled``, the chain reads left
out): main cut each batch off the dict's front (``dict(list(items())[:N])``, copying the
whole rest every batch: quadratic), this branch takes the dict once and slices it with
``islice``. Alternated A/B, best of ``--runs``; prints JSON."""

from __future__ import annotations

import argparse
import json
import time
from itertools import islice

from sdex.node.peering import CANCELLED_READ


def main_way(unread: dict[bytes, object]) -> int:
    batches = 0
    while unread:
        batch = dict(list(unread.items())[:CANCELLED_READ])
        for h in batch:
            del unread[h]
        batches += 1
    return batches


def branch_way(unread: dict[bytes, object]) -> int:
    batches = 0
    while unread:
        taken, unread = unread, {}
        items = iter(taken.items())
        while dict(islice(items, CANCELLED_READ)):
            batches += 1
    return batches


def timed(way: object, n: int) -> float:
    unread = {i.to_bytes(32, "big"): object() for i in range(n)}
    t0 = time.perf_counter()
    assert callable(way) and way(unread) == -(-n // CANCELLED_READ)
    return time.perf_counter() - t0


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--sizes", default="2000,20000,100000")
    args = p.parse_args()
    out = []
    for n in (int(s) for s in args.sizes.split(",")):
        a, b = [], []
        for _ in range(args.runs):  # alternated
            a.append(timed(main_way, n))
            b.append(timed(branch_way, n))
        out.append(
            {
                "backlog": n,
                "main_s": min(a),
                "branch_s": min(b),
                "main_over_branch": min(a) / min(b),
            }
        )
    print(json.dumps({"bench": "left61_cancel_drain", "results": out}, indent=1))


if __name__ == "__main__":
    run()
