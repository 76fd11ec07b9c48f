"""The pieces anvil81 cut, timed in this tree and a reference tree, alternated: a settlement
receipt's parse (``Receipt.from_rpc``), its fills decoded as the node's own
(``Exchange.fills_as(..., own_fill)``), a queue held whole (``held_back`` with a hold of
every order) and the withdrawn check (``NodeRecords._withdrawn``'s loop, through a minimal
stand-in of the node's state). Thread CPU, best of 7, per match; prints JSON.

``python bench/anvil81_pieces.py --ref-root /work/wt/old --rounds 5``"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, random, sys, time
from types import SimpleNamespace
from sdex.chain.receipt import Receipt
from sdex.chain.exchange import Exchange
from sdex.storefills import own_fill
from sdex.settlement.take import held_back
from sdex.node.records import NodeState as NodeRecords
N, QUEUE = 93, 4096
rnd = random.Random(1)
def h(n):
    return "0x" + rnd.randbytes(n).hex()
EX, T1, T2 = h(20), h(20), h(20)
FILL, TRANSFER = "0x" + "ab" * 32, "0x" + "dd" * 32
MAKERS = ["0x" + "00" * 12 + h(20)[2:] for _ in range(12)]
def receipt(n):
    logs, i, tx, bh = [], 0, h(32), h(32)
    for _ in range(n):
        for side in range(2):
            for address, topics, data in (
                (EX, [FILL, h(32), rnd.choice(MAKERS), rnd.choice(MAKERS)], h(128)),
                ((T1, T2)[side], [TRANSFER, rnd.choice(MAKERS), rnd.choice(MAKERS)], h(32)),
            ):
                logs.append({"address": address, "topics": topics, "data": data,
                             "blockNumber": "0x1f3", "transactionHash": tx, "logIndex": hex(i),
                             "blockHash": bh, "transactionIndex": "0x0", "removed": False})
                i += 1
    return {"transactionHash": tx, "blockHash": bh, "status": "0x1", "blockNumber": "0x1f3",
            "gasUsed": "0x1234", "logs": logs, "contractAddress": None}
def best(f, reps):
    ts = []
    for _ in range(7):
        t = time.thread_time()
        for _ in range(reps):
            f()
        ts.append((time.thread_time() - t) / reps)
    return min(ts)
raw = receipt(N)
rec = Receipt.from_rpc(raw)
ex = SimpleNamespace(address=EX.lower(), _fill_topic=bytes.fromhex("ab" * 32))
assert len(Exchange.fills_as(ex, rec.logs, own_fill)) == 2 * N
class Every(frozenset):
    def __contains__(self, x):
        return True
    def __len__(self):
        return 1
every = Every()
queue = [SimpleNamespace(resting=SimpleNamespace(hash=bytes([i % 256]) * 32),
                         incoming=SimpleNamespace(hash=bytes([(i + 1) % 256]) * 32))
         for i in range(QUEUE)]
at = [0.0] * QUEUE
def side(i):
    o = SimpleNamespace(expiry=1 << 40, maker_amount=10**18, salt=i, maker=MAKERS[i % 12])
    return SimpleNamespace(hash=rnd.randbytes(32), order=o)
batch = [SimpleNamespace(resting=side(i), incoming=side(i + 1)) for i in range(N)]
mirror = SimpleNamespace(filled={}, cancelled=set(), min_salt={})
node = SimpleNamespace(records={}, _doomed={}, mirror=mirror, soonest_landing=lambda: 1 << 30)
node.gone_on_chain = lambda so: NodeRecords.gone_on_chain(node, so)
node.cancelled_on_chain = lambda so: NodeRecords.cancelled_on_chain(node, so)
assert NodeRecords._withdrawn(node, batch) == {}
print(json.dumps({
    "from_rpc_us_a_match": 1e6 * best(lambda: Receipt.from_rpc(raw), 20) / N,
    "fills_as_us_a_match": 1e6 * best(lambda: Exchange.fills_as(ex, rec.logs, own_fill), 20) / N,
    "held_back_all_us_a_call": 1e6 * best(lambda: held_back(queue, at, lambda: every), 20),
    "withdrawn_us_a_match": 1e6 * best(lambda: NodeRecords._withdrawn(node, batch), 50) / N,
}))
"""


def run(root: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=root, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"{root}: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ref-root", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sides: dict[str, list[dict[str, float]]] = {"this": [], "ref": []}
    for k in range(args.rounds):
        order = [("this", ROOT), ("ref", args.ref_root)]
        for name, root in order if k % 2 == 0 else order[::-1]:
            sides[name].append(run(root))
    keys = list(sides["this"][0])
    summary = {
        key: {
            name: [round(statistics.median(r[key] for r in rows), 3),
                   round(min(r[key] for r in rows), 3), round(max(r[key] for r in rows), 3)]
            for name, rows in sides.items()
        }
        for key in keys
    }  # fmt: skip
    for key in keys:
        summary[key]["ratio_of_medians"] = round(
            summary[key]["this"][0] / summary[key]["ref"][0], 3
        )
    print(json.dumps({"load_average": os.getloadavg(), "median_min_max": summary}, indent=1))


if __name__ == "__main__":
    main()
