"""What a node's bounded gossip tables cost per new order once full (one process, no I/O).

A node that has run a while holds ``HEARD_MAX`` (20,000) signatures in ``Heard`` (who
pushed each order, who a pusher said it also sends it to) and ``ORDER_TEXTS`` (4,096) pushed
orders' JSON texts: from then on every new order evicts the oldest entry of each. The
8-node benchmark (``bench/gossip.py``) never fills them (its windows hold a few thousand
orders), so this measures that steady state: per new order, one ``Heard.note`` (its first
pusher), one ``Heard.hint`` (the peers that pusher named) and one ``payload.remember`` (its
text, as the node does for every order it accepts), in chunks as pushes bring them.

    PYTHONPATH=$PWD .venv/bin/python bench/gossip_tables.py [--root /work/wt/lead]

``--root``: import ``sdex`` from another checkout (A/B in the same minutes). Prints JSON:
microseconds of CPU (``time.process_time``) per new order, each round, and their median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", help="import sdex from this checkout")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--orders", type=int, default=20_000, help="new orders a round")
    ap.add_argument("--chunk", type=int, default=4, help="orders a push")
    args = ap.parse_args()
    if args.root:
        sys.path.insert(0, args.root)
    from sdex.gossip import payload
    from sdex.gossip.outbox import HEARD_MAX, Heard

    heard = Heard()
    total = HEARD_MAX + args.rounds * args.orders
    orders = [{"signature": f"0x{k:0130x}", "k": k} for k in range(total)]
    pusher, named = f"0x{1:040x}", [f"0x{k:040x}" for k in range(2, 5)]
    text = json.dumps(orders[0]).encode()

    def feed(lo: int, hi: int) -> None:
        for i in range(lo, hi, args.chunk):
            chunk = orders[i : i + args.chunk]
            heard.note(pusher, chunk)
            heard.hint(named, chunk)
            for o in chunk:
                payload.remember(o, text)

    feed(0, HEARD_MAX)  # full
    rounds = []
    for r in range(args.rounds):
        lo = HEARD_MAX + r * args.orders
        t = time.process_time()
        feed(lo, lo + args.orders)
        rounds.append(round((time.process_time() - t) / args.orders * 1e6, 2))
    print(json.dumps({"root": args.root or ".", "us_per_new_order": rounds,
                      "median": statistics.median(rounds)}))  # fmt: skip


if __name__ == "__main__":
    main()
