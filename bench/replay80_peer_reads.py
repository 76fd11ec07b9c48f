#!/usr/bin/env python3
"""Peers' orders pushed while a fresh node replays a long chain: what they cost the chain
(rows read, ``getOrderStates`` calls) and how many are refused (``THROTTLED``: rejected for
now, fetched again by anti-entropy), against the same pushes once the mirror follows the chain
(``after``: a first-seen account's one read). replay80: a wallet's order waits for the replay
(replay79); a peer's was read at once, alone, or refused.

One Hardhat devnet with ~``--blocks`` blocks mined above the deployment (a WETH transfer to a
maker every 15: ``tests.test_replay79.busy_blocks``); per round, for each side (alternated), an
in-process node on a fresh store, its replay's last read held by a proxy on loopback until
every push is answered with ``--held`` (else the pushes begin as the node is up, the replay
running its course: ``during``; ``after``: pushed once the mirror follows); ``--peers``
peers, each with a budget of its own (the standing a peer that delivered earns:
``Gossip.reads_owner`` answers the peer itself), push ``--per-peer`` new orders each in chunks
of ``--chunk`` (``Node.submit_many_from_peer``, as gossip's checks call it), all at once.

    PYTHONPATH=$PWD .venv/bin/python bench/replay80_peer_reads.py [--rounds 2] [--per-peer 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sdex.devnet import Devnet  # noqa: E402
from sdex.order import SignedOrder  # noqa: E402
from tests.conftest import Chain, chain_of  # noqa: E402
from tests.nodeutil import node_config, running_node, wait_for  # noqa: E402
from tests.rpcfault import NOT_HUNG, gated_proxy  # noqa: E402
from tests.test_replay79 import busy_blocks, logs_to  # noqa: E402

E15 = 10**15
MAKERS = 16
"""Makers (dev accounts 1..16): each peer's orders come from 2 of them."""


def pushes(c: Chain, peers: int, per_peer: int, salt: int) -> dict[str, list[SignedOrder]]:
    """Each peer's new orders: asks of its two makers (peer k: makers 2k+1, 2k+2)."""
    out: dict[str, list[SignedOrder]] = {}
    for k in range(peers):
        makers = [1 + (2 * k) % MAKERS, 1 + (2 * k + 1) % MAKERS]
        out[f"peer{k}"] = [
            c.sign(
                c.order(
                    makers[i % 2], c.weth, E15, c.usdc, 3_000_000 + i, salt=salt + k * 10**5 + i
                )
            )
            for i in range(per_peer)
        ]
    return out


async def one(
    c: Chain, db: Path, top: int, during: bool, args: argparse.Namespace, salt: int
) -> dict[str, Any]:
    by_peer = pushes(c, args.peers, args.per_peer, salt)
    gate = logs_to(top)
    if during and args.held:
        gate.armed.set()
    with gated_proxy(c.rpc.url, [gate]) as url:
        async with running_node(node_config(c, db, rpc=url, new_heads=False)) as (node, _):
            w = node.watcher
            w.stall = NOT_HUNG  # (the held read is a slow replay, not a hang)
            assert node.gossip is not None
            node.gossip.reads_owner = lambda peer: peer  # type: ignore[method-assign]
            if during and args.held:
                await wait_for(gate.held.is_set, timeout=300)
            if during:
                assert not node.mirror_ready()  # (a fresh store: replayed from the deployment)
            else:
                await wait_for(node.mirror_ready, timeout=300)
            calls0 = node.peer_batcher.calls

            async def push(peer: str, orders: list[SignedOrder]) -> tuple[list[str], float]:
                began, verdicts = time.monotonic(), []
                for k in range(0, len(orders), args.chunk):
                    objs: list[object] = [s.to_json() for s in orders[k : k + args.chunk]]
                    verdicts += await node.submit_many_from_peer(objs, peer)
                return verdicts, time.monotonic() - began

            began = time.monotonic()
            got = await asyncio.gather(*(push(p, o) for p, o in by_peer.items()))
            took = time.monotonic() - began
            ready_after = node.mirror_ready()
            replayed = w.caught_up.is_set()
            gate.release.set()
            await wait_for(node.mirror_ready, timeout=300)
            verdicts = Counter(v for vs, _ in got for v in vs)
            per_peer = [Counter(vs)["rejected"] for vs, _ in got]
            return {
                "mirror_ready_after_push": ready_after,
                "replayed_by_then": replayed,
                "push_s": round(took, 3),
                "verdicts": dict(verdicts),
                "rejected_per_peer": per_peer,
                "rows_read": node.peer_intake.read,
                "throttled": node.peer_intake.throttled,
                "state_calls": node.peer_batcher.calls - calls0,
                "budget_reads": node.peer_read_budget.read,
            }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="replay80-peers-"))
    dev = Devnet(deployment_path=work / "devnet.json", log_path=work / "hardhat.log", accounts=20)
    deployment = dev.start()
    try:
        assert dev.rpc is not None
        c = chain_of(dev.rpc, deployment)
        top = busy_blocks(c, args.blocks)
        out: dict[str, Any] = {"head": top, "deployBlock": deployment.deploy_block, "rounds": []}
        for r in range(args.rounds):
            row: dict[str, Any] = {}
            for during in [True, False] if r % 2 == 0 else [False, True]:
                name = "during" if during else "after"
                db = work / f"{r}-{name}.db"
                row[name] = await one(c, db, top, during, args, 10**7 * (2 * r + during))
            out["rounds"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        out["loadavg"] = os.getloadavg()
        return out
    finally:
        dev.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--peers", type=int, default=8)
    p.add_argument("--per-peer", type=int, default=100)
    p.add_argument("--chunk", type=int, default=10)
    p.add_argument("--blocks", type=int, default=3_000)
    p.add_argument(
        "--held", action="store_true", help="hold the replay's last read till every push is in"
    )
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=1))


if __name__ == "__main__":
    main()
