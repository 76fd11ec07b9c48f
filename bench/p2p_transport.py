"""CPU per gossip call: one signed HTTP request vs one frame on the authenticated stream.

Two in-process gossip drivers (``sdex.gossip.gossip.Gossip``) with their routes on real
aiohttp servers on loopback (``tests.p2putil``); B's intake is in memory and already holds
every order pushed, so what is measured is the transport: A pushes batches of ``--batch``
order-sized dicts to B, ``--window`` calls in flight (the push window), the same number of
calls over each transport (``--modes``; ``stream-task``: the stream with every frame served
in a task, held pushes too, as before ``Served.answer_now``), alternating rounds, their order
turned each round. Both sides run in this one process, so the process's CPU time per call is
sender + receiver (what a push costs the network). Prints JSON: CPU µs, wall µs and B's
answer frames per call for each transport and batch size, and their ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402

from sdex.gossip import GossipConfig  # noqa: E402
from sdex.gossip.actions import Call  # noqa: E402
from tests.p2putil import Member, gossip_net, order  # noqa: E402

QUIET = GossipConfig(ae_interval=3600.0, peer_exchange_interval=3600.0, dial_interval=0.1)


POOL = 64
"""Distinct batches pushed in turn (a signed request repeated within a millisecond would be
a replay: the same body and time sign the same)."""


async def calls(a: Member, b: Member, batches: list[list[dict[str, Any]]], n: int, window: int,
                stream: bool) -> tuple[float, float]:  # fmt: skip
    """(CPU seconds, wall seconds) for ``n`` pushes of ``batches`` (in turn) from a to b."""
    peer = a.gossip.peers.get(b.gossip.node_id)
    assert peer is not None
    todo = iter(range(n))

    async def one_lane() -> None:
        for i in todo:
            body = {"orders": batches[i % len(batches)]}
            call: Call = a.gossip.core.call(peer, "push", "POST", "/p2p/orders", body)
            reply = await (a.gossip._streamed(call) if stream else a.gossip._http(call))
            assert reply is not None and reply.status == 200, reply

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one_lane() for _ in range(window)))
    return time.process_time() - cpu, time.perf_counter() - wall


@contextlib.contextmanager
def answered_in_tasks(b: Member, on: bool) -> Iterator[None]:
    """With ``on``: b's streams answer every frame in a task of its own, held pushes too
    (as before ``Served.answer_now``)."""
    assert b.gossip.streams is not None
    served = [s for group in b.gossip.streams.served.values() for s in group] if on else []
    kept = [s.answer_now for s in served]
    for s in served:
        s.answer_now = None
    try:
        yield
    finally:
        for s, now in zip(served, kept, strict=True):
            s.answer_now = now


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with gossip_net(2, [QUIET, QUIET]) as (a, b):
        assert a.gossip.streams is not None
        while a.gossip.streams.link(b.gossip.node_id, b.url) is None:
            await asyncio.sleep(0.01)
        for size in args.batch:
            batches = [
                [order(10**6 * size + 1000 * k + i) for i in range(size)] for k in range(POOL)
            ]
            for batch in batches:  # known: transport only
                for o in batch:
                    b.node.add(o)
            totals = {mode: [0.0, 0.0] for mode in args.modes}
            frames = dict.fromkeys(args.modes, 0)
            for r in range(args.rounds):
                for mode in args.modes if r % 2 == 0 else args.modes[::-1]:
                    before = b.gossip.streams.answer_frames() if b.gossip.streams else 0
                    with answered_in_tasks(b, mode == "stream-task"):
                        cpu, wall = await calls(
                            a, b, batches, args.calls, args.window, mode != "http"
                        )
                    totals[mode][0] += cpu
                    totals[mode][1] += wall
                    frames[mode] += (
                        b.gossip.streams.answer_frames() if b.gossip.streams else 0
                    ) - before
            n = args.calls * args.rounds
            row: dict[str, Any] = {
                mode: {"cpu_us_per_call": round(c / n * 1e6, 1),
                       "wall_us_per_call": round(w / n * 1e6, 1),
                       "answer_frames_per_call": round(frames[mode] / n, 3)}
                for mode, (c, w) in totals.items()
            }  # fmt: skip
            for x, y in (("stream", "http"), ("stream", "stream-task")):
                if x in totals and y in totals:
                    ratio = totals[x][0] / totals[y][0]
                    row[f"cpu_ratio_{x}_over_{y}".replace("-", "_")] = round(ratio, 3)
            out[f"batch_{size}"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8, 64], help="orders per push")
    ap.add_argument("--calls", type=int, default=500, help="calls per transport per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    ap.add_argument("--window", type=int, default=4, help="calls in flight")
    ap.add_argument("--modes", nargs="+", default=["http", "stream"],
                    choices=["http", "stream", "stream-task"],
                    help="transports, alternated (stream-task: the stream with every frame "
                         "answered in a task, held pushes too)")  # fmt: skip
    args = ap.parse_args()
    result = {"calls": asyncio.run(run(args)), "machine": machine(), "args": vars(args)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
