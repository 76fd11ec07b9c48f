#!/usr/bin/env python3
"""A node's CPU per wallet order without HTTP (issue 11, http69): fresh signed orders straight
into ``Node.submit`` (source ``api``: intake, ``_accept``, match, the row's commit awaited),
``--in-flight`` at once, a task each (as the HTTP bench's 48 requests in flight are), in one
process, on one devnet.

What the node's own work a wallet order costs beyond its HTTP layer, split: the event loop's
thread and the other threads (the store's writer, the ECDSA worker when a core is spare).
``--profile FILE``: one more round under cProfile (its top functions by own time and calls an
order to stderr; the profile saved). ``--way grouped``: through ``Node.submit_wallet`` instead
(the API's way since http69: a loop turn's orders through the intake together). ``--root
DIR`` runs another checkout's ``sdex``. Prints JSON lines per round, then the medians."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # before any ``sdex`` import
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))
import sdex  # noqa: E402  (first: bench/node.py puts its own checkout on the path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import node as nb  # noqa: E402
from http_modes import devnet_node  # noqa: E402

from sdex.book.native import ACTIVE  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402


async def posted(node: Any, objs: list[dict[str, Any]], in_flight: int,
                 grouped: bool = False) -> None:  # fmt: skip
    """``objs`` through ``node.submit`` as a wallet's, ``in_flight`` tasks taking them in turn
    (``grouped``: through ``node.submit_wallet``, the API's way, a turn's orders together)."""
    it = iter(objs)

    async def worker() -> None:
        for obj in it:
            res = await (node.submit_wallet(obj) if grouped else node.submit(obj, "api"))
            if res.status != 201:
                raise RuntimeError(f"not accepted: {res.status} {res.body}")

    await asyncio.gather(*(worker() for _ in range(in_flight)))


async def rounds(cfg: NodeConfig, bodies: list[list[dict[str, Any]]], in_flight: int,
                 profile: str | None, way: str) -> list[dict[str, float]]:  # fmt: skip
    out = []
    async with serve(cfg) as node:
        grouped = way == "grouped"
        group = node.wallet_group
        for i, objs in enumerate(bodies):
            prof = cProfile.Profile() if profile and i == len(bodies) - 1 else None
            t0, p0 = time.thread_time(), time.process_time()
            if prof is not None:
                prof.enable()
            await posted(node, objs, in_flight, grouped and i > 0)
            if prof is not None:
                prof.disable()
            loop_s, all_s = time.thread_time() - t0, time.process_time() - p0
            if i == 0:
                continue  # warm-up: first-seen accounts are read from the chain
            if prof is not None:
                assert profile is not None
                prof.dump_stats(profile)
                st = pstats.Stats(prof, stream=sys.stderr)
                st.sort_stats("tottime").print_stats(45)
                continue
            n = len(objs)
            row = {
                "loop_us": round(1e6 * loop_s / n, 1),
                "other_threads_us": round(1e6 * (all_s - loop_s) / n, 1),
                "total_us": round(1e6 * all_s / n, 1),
            }
            if grouped:
                row["orders_a_group"] = round(group.grouped / max(1, group.groups), 1)
            out.append(row)
            print(json.dumps(row), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-round", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--in-flight", type=int, default=48)
    ap.add_argument("--profile", help="one more round under cProfile, saved to this file")
    ap.add_argument("--way", choices=("node", "grouped"), default="node",
                    help="grouped: submit_wallet, the API's way")  # fmt: skip
    ap.add_argument("--root", help="run this checkout's sdex (default: this file's)")
    args = ap.parse_args()
    extra = 1 if args.profile else 0
    n = args.per_round * (args.repeat + 1 + extra)
    if n > nb.OPERATOR * 1000:
        ap.error("at most 19,000 orders in all (19 makers, 1,000 open orders each)")
    with devnet_node("sdex-wallet-") as (_, signer, cfg):
        orders = [o.to_json() for o in signer.resting(n, list(range(nb.OPERATOR)))]
        per = args.per_round
        bodies = [orders[i * per : (i + 1) * per] for i in range(args.repeat + 1 + extra)]
        out = asyncio.run(rounds(cfg, bodies, args.in_flight, args.profile, args.way))
    medians = {k: statistics.median(r[k] for r in out) for k in out[0]}
    where = str(Path(sdex.__file__).parent)
    print(json.dumps({"sdex": where, "way": args.way, "compiled": ACTIVE, "medians": medians,
                      "machine": nb.machine()}))  # fmt: skip


if __name__ == "__main__":
    main()
