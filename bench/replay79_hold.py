"""Wallet orders posted during a fresh node's replay of a long chain: held for the mirror
(replay79) against read one by one (as before: ``ReplayHold.most`` 0, every order read at
once). One Hardhat devnet with ~``--blocks`` blocks mined above the deployment, a WETH
transfer to a maker every 15; per round, for each variant (alternated), an in-process node
on a fresh store starts and ``--orders`` asks from 4 makers are posted at once right away.
Per round: the replay's time (start to the mirror following the chain), the orders' answer
times (p50, max), their codes, the chain reads intake made. Prints JSON.

    PYTHONPATH=$PWD .venv/bin/python bench/replay79_hold.py [--rounds 3] [--orders 50]

outage79's scenarios (``--scenario``), each round this tree's code and ``--against``'s (a
worktree: main) alternated, each in a process of its own importing its tree:

- ``long``: a replay longer than the hold (its last read held by a proxy till every order is
  answered; the hold ``--hold-seconds``, 1): ``--orders`` asks of 4 makers from one wallet;
  the wallet's budget tokens spent, ``getOrderStates`` calls, codes, answer times;
- ``outage``: the chain's backend refuses every read (a proxy) while ``--outage-blocks`` are
  mined, then answers: the orders posted during the catch-up (its last read held till they
  are in, or answered), their codes, ``/health``'s chain then, the catch-up's time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("SDEX_TREE") or Path(__file__).resolve().parent.parent)
"""The tree whose code runs (``--against``'s child: another worktree's)."""
sys.path.insert(0, str(ROOT))

from sdex.devnet import Devnet  # noqa: E402
from tests.conftest import Chain, chain_of  # noqa: E402
from tests.nodeutil import node_config, running_node, wait_for  # noqa: E402
from tests.test_replay79 import busy_blocks  # noqa: E402

E15 = 10**15


async def one(c: Chain, db: Path, hold: bool, orders: int, salt: int) -> dict[str, Any]:
    signed = [
        c.sign(c.order(1 + i % 4, c.weth, E15, c.usdc, 3_000_000 + i, salt=salt + i))
        for i in range(orders)
    ]
    began = time.monotonic()
    async with running_node(node_config(c, db)) as (node, api):
        if not hold:
            node.replay_hold.most = 0  # (as before: each read at once)
        started = time.monotonic()
        ready_at_post = node.mirror_ready()

        async def timed(s: Any) -> tuple[int, float]:
            t = time.monotonic()
            code, _ = await api.post_order(s)
            return code, time.monotonic() - t

        answers = await asyncio.gather(*(timed(s) for s in signed))
        await wait_for(node.mirror_ready, timeout=300)
        replay = time.monotonic() - began
        waits = sorted(w for _, w in answers)
        return {
            "start_s": round(started - began, 3),
            "replay_s": round(replay, 3),
            "mirror_ready_at_post": ready_at_post,
            "wait_p50_s": round(waits[len(waits) // 2], 3),
            "wait_max_s": round(waits[-1], 3),
            "codes": dict(Counter(code for code, _ in answers)),
            "reads": node.intake.read,
            "held": node.replay_hold.held,
        }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="replay79-"))
    dev = Devnet(deployment_path=work / "devnet.json", log_path=work / "hardhat.log", accounts=20)
    deployment = dev.start()
    try:
        assert dev.rpc is not None
        c = chain_of(dev.rpc, deployment)
        head = busy_blocks(c, args.blocks)
        out: dict[str, Any] = {"head": head, "deployBlock": deployment.deploy_block, "rounds": []}
        for r in range(args.rounds):
            order = [True, False] if r % 2 == 0 else [False, True]
            row: dict[str, Any] = {}
            for hold in order:
                name = "held" if hold else "read_at_once"
                row[name] = await one(
                    c, work / f"{r}-{name}.db", hold, args.orders, 10**6 * (r * 2 + hold)
                )
            out["rounds"].append(row)
        out["loadavg"] = os.getloadavg()
    finally:
        dev.stop()
    shutil.rmtree(work, ignore_errors=True)  # (kept when the run raised: its logs)
    return out


def logs_to(top: int) -> Any:
    """A ``tests.rpcfault.Gate`` on the watcher's read of logs up to block ``top``."""
    from tests.rpcfault import Gate

    def picks(calls: Any) -> bool:
        for call in calls:
            p = call.get("params")
            logs = call.get("method") == "eth_getLogs" and p and isinstance(p[0], dict)
            if logs and int(p[0].get("toBlock", "0x0"), 16) >= top:
                return True
        return False

    return Gate(picks)


@contextlib.contextmanager
def refusing(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """A proxy to ``upstream`` answering every request with a JSON-RPC error while the event
    is set (``tests.rpcfault.outage_proxy``, which the other tree may lack)."""
    from tests.rpcfault import _errors, _proxy

    down = threading.Event()

    def intercept(req: object) -> Any:
        return (200, json.dumps(_errors(req)).encode()) if down.is_set() else None

    with _proxy(upstream, intercept) as url:
        yield url, down


async def child(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement of ``args.child`` with this process's tree (``ROOT``)."""
    from sdex.chain import Rpc
    from sdex.deployment import Deployment
    from tests.rpcfault import gated_proxy

    c = chain_of(Rpc(args.rpc), Deployment.load(Path(args.deployment)))
    signed = [
        c.sign(c.order(1 + i % 4, c.weth, E15, c.usdc, 3_000_000 + i, salt=args.salt + i))
        for i in range(args.orders)
    ]
    head = int(c.rpc.call("eth_blockNumber"), 16)
    gate = logs_to(head if args.child == "long" else 2**62)
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(gated_proxy(c.rpc.url, [gate]))
        if args.child == "outage":
            url, down = stack.enter_context(refusing(url))
        cfg = node_config(c, Path(args.db), rpc=url, new_heads=False)
        async with running_node(cfg) as (node, api):
            node.watcher.stall = 120.0  # (the held read is a slow replay, not a hang)
            node.replay_hold.seconds = args.hold_seconds if args.child == "long" else 300.0
            if args.child == "long":
                gate.armed.set()
                await wait_for(gate.held.is_set, timeout=120)
            else:
                await wait_for(node.mirror_ready, timeout=300)
                down.set()
                await wait_for(lambda: node.watcher.status == "unreachable", timeout=60)
                c.rpc.call("hardhat_mine", hex(args.outage_blocks))
                top = int(c.rpc.call("eth_blockNumber"), 16)
                gate.picks = logs_to(top).picks
                gate.armed.set()
                began = time.monotonic()
                down.clear()
                await wait_for(gate.held.is_set, timeout=120)
                out["health_chain"] = (await api.get("/health"))[1]["chain"]
            t0 = time.monotonic()

            async def timed(s: Any) -> tuple[int, float]:
                code, _ = await api.post_order(s)
                return code, time.monotonic() - t0

            posts = [asyncio.ensure_future(timed(s)) for s in signed]
            if args.child == "outage":  # (answered, or all waiting for the catch-up)
                held = node.replay_hold

                def all_in() -> bool:
                    return all(p.done() for p in posts) or held.now == args.orders

                await wait_for(all_in, timeout=120)
                gate.release.set()
            answers = await asyncio.gather(*posts)
            gate.release.set()
            await wait_for(node.mirror_ready, timeout=300)
            if args.child == "outage":
                out["catch_up_s"] = round(time.monotonic() - began, 3)
            waits = sorted(w for _, w in answers)
            out.update(
                codes=dict(Counter(code for code, _ in answers)),
                tokens=node.read_budget.read,
                calls=node.batcher.calls,
                wait_p50_s=round(waits[len(waits) // 2], 3),
                wait_max_s=round(waits[-1], 3),
            )
    return out


def alternated(args: argparse.Namespace) -> dict[str, Any]:
    """``args.scenario`` in rounds, this tree and ``args.against`` alternated."""
    work = Path(tempfile.mkdtemp(prefix="outage79-"))
    dev = Devnet(deployment_path=work / "devnet.json", log_path=work / "hardhat.log", accounts=20)
    dev.start()
    here = Path(__file__).resolve()
    trees = {"new": str(here.parent.parent), "main": args.against}
    out: dict[str, Any] = {"scenario": args.scenario, "rounds": []}
    try:
        assert dev.rpc is not None
        for r in range(args.rounds):
            row: dict[str, Any] = {}
            for k, name in enumerate(["new", "main"] if r % 2 == 0 else ["main", "new"]):
                env = {**os.environ, "SDEX_TREE": trees[name], "PYTHONPATH": trees[name]}
                argv = [
                    sys.executable, str(here), "--child", args.scenario, "--rpc", dev.rpc.url,
                    "--deployment", str(work / "devnet.json"), "--db", str(work / f"{r}{k}.db"),
                    "--orders", str(args.orders), "--salt", str(10**7 * (1 + 2 * r + k)),
                    "--hold-seconds", str(args.hold_seconds),
                    "--outage-blocks", str(args.outage_blocks),
                ]  # fmt: skip
                done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    raise SystemExit(done.stderr[-3000:])
                row[name] = json.loads(done.stdout)
            out["rounds"].append(row)
        out["loadavg"] = os.getloadavg()
    finally:
        dev.stop()
    shutil.rmtree(work, ignore_errors=True)  # (kept when the run raised: its logs)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--orders", type=int, default=50)
    p.add_argument("--blocks", type=int, default=3_000)
    p.add_argument("--scenario", choices=["start", "long", "outage"], default="start")
    p.add_argument("--against", default="/work/main", help="the tree to alternate with")
    p.add_argument("--hold-seconds", type=float, default=1.0)
    p.add_argument("--outage-blocks", type=int, default=2_000)
    p.add_argument("--child", choices=["long", "outage"], help=argparse.SUPPRESS)
    p.add_argument("--rpc", help=argparse.SUPPRESS)
    p.add_argument("--deployment", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--salt", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args))))
    elif args.scenario != "start":
        print(json.dumps(alternated(args), indent=1))
    else:
        print(json.dumps(asyncio.run(run(args)), indent=1))


if __name__ == "__main__":
    main()
