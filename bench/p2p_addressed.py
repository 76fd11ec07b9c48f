"""What naming the receiver in every signed ``/p2p/`` request costs (peer28): a request's
signing (``NodeKey.request_headers``) and its check (``verify_request``), this tree against
``--ref``, alternated.

Each round runs one process per tree (``--ref`` first in even rounds, this tree first in odd
ones) that signs and verifies ``--n`` requests (a 2 KB body: a push of a few orders) after a
warm-up, and prints microseconds per request. Prints JSON: each round's figures, the ratio
new/ref per round and their median and spread.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ab_parser, ab_variants, alternated, machine

CHILD = r"""
import inspect, json, sys, time
from sdex.gossip.identity import NodeKey, verify_request
n = int(sys.argv[1])
me, them = NodeKey.generate(), NodeKey.generate()
body = b"x" * 2048
addressed = "to" in inspect.signature(me.request_headers).parameters
kw = {"to": them.node_id} if addressed else {}
def one():
    h = me.request_headers("POST", "/p2p/orders", body, "http://127.0.0.1:9000", **kw)
    assert verify_request("POST", "/p2p/orders", h).node_id == me.node_id
for _ in range(500):
    one()
t = time.perf_counter()
for _ in range(n):
    one()
print(json.dumps({"us": (time.perf_counter() - t) / n * 1e6, "addressed": addressed}))
"""


def run(tree: Path, n: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n)],
        env=env,
        cwd=tree,  # (a -c script imports from its working directory first)
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def main() -> None:
    ap = ab_parser(__doc__ or "", repeat=8)
    ap.add_argument("--n", type=int, default=5000, help="requests signed and checked per run")
    args = ap.parse_args()
    variants = ab_variants(args.ref)
    rounds = []
    for r in range(args.repeat):
        got = {name: run(tree, args.n) for name, tree in alternated(variants, r)}
        rounds.append(got)
    ratios = [float(g["new"]["us"]) / float(g["ref"]["us"]) for g in rounds]  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "machine": machine(),
                "n": args.n,
                "rounds": rounds,
                "ratio_new_over_ref": [round(x, 3) for x in ratios],
                "median_ratio": round(statistics.median(ratios), 3),
                "spread": [round(min(ratios), 3), round(max(ratios), 3)],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
