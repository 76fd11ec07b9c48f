#!/usr/bin/env python3
"""A node's CPU per peer order, without the network: chunks of a peer's orders straight into
``Node.submit_many_from_peer``, in one process, on one devnet.

The peer path of ``bench/gossip.py`` minus the transport: each round hands the node
``--per-round`` fresh signed orders in chunks of ``--chunk`` (as a push's check does), then
the same orders again as a second peer's copies (known: no parse, no hash, no ECDSA). With
``--subscriber`` an in-process websocket subscriber (``node.events``) takes every event's
text, as the bench's watcher makes each node do: a task that awaits each event's text (a
wake-up an event), or with ``--direct`` as the node's websocket sender takes them
(``sdex.node.wsapi``: parked on its queue with the socket lent to ``Subscription.put``, so a
turn's events are made into frames by one callback, ``Subscription.flush``; here the frames
go to no socket, so the write's system call is not in the figure). Per round it prints the
node's CPU per new
order (the process's, so the ECDSA worker and the store writer count) and the event loop's
share. ``--root DIR`` runs another checkout's ``sdex`` (a before/after in the same minutes:
run this file from both, alternated). Prints JSON lines, then the medians.
"""

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
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import node as nb  # noqa: E402
from http_modes import devnet_node  # noqa: E402

from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.events import text_frames  # noqa: E402
from sdex.node.main import serve  # noqa: E402


async def drain(sub: Any) -> None:
    """A subscriber that takes each event's text (what the websocket handler sends)."""
    while await sub.get_text() is not None:
        pass


class _Sink:
    """A socket that always has room: the frames are made (``text_frames``) and dropped."""

    def __init__(self) -> None:
        self.frames = 0

    def room(self) -> bool:
        return True

    def write(self, texts: list[str]) -> None:
        self.frames += len(text_frames(texts)) > 0


async def send_direct(sub: Any) -> None:
    """The node's websocket sender's loop (``sdex.node.wsapi``), writing to ``_Sink``."""
    sub.direct = sink = _Sink()
    while True:
        sub.parked = True
        text = await sub.get_text()
        sub.parked = False
        sub.flush()
        if text is None:
            return
        texts, ended = sub.ready_texts(64)
        sink.write([text, *texts])
        if ended:
            return


async def rounds(cfg: NodeConfig, bodies: list[list[dict[str, Any]]], chunk: int,
                 subscriber: bool, direct: bool = False) -> list[dict[str, float]]:  # fmt: skip
    out = []
    async with serve(cfg) as node:
        sub = node.events.subscribe() if subscriber else None
        take = send_direct if direct else drain
        reader = asyncio.create_task(take(sub)) if sub is not None else None
        for i, objs in enumerate(bodies):
            t0, p0 = time.thread_time(), time.process_time()
            for peer in ("peer-a", "peer-b"):  # the second: copies already held
                for k in range(0, len(objs), chunk):
                    got = await node.submit_many_from_peer(objs[k : k + chunk], peer)
                    if peer == "peer-a" and got.count("accepted") != len(got):
                        raise RuntimeError(f"not all accepted: {set(got)}")
                    await asyncio.sleep(0)
            await asyncio.sleep(0.25)  # the lazy store hand-over (0.1 s) and its commit
            loop_s, all_s = time.thread_time() - t0, time.process_time() - p0
            n = len(objs)
            if i == 0:
                continue  # warm-up: first-seen accounts are read from the chain
            row = {
                "loop_us": round(1e6 * loop_s / n, 1),
                "other_threads_us": round(1e6 * (all_s - loop_s) / n, 1),
                "total_us": round(1e6 * all_s / n, 1),
            }
            out.append(row)
            print(json.dumps(row), flush=True)
        if sub is not None and reader is not None:
            sub.close()
            await reader
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-round", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--subscriber", action="store_true")
    ap.add_argument("--direct", action="store_true", help="with --subscriber: the node's way")
    ap.add_argument("--root", help="run this checkout's sdex (default: this file's)")
    args = ap.parse_args()
    n = args.per_round * (args.repeat + 1)
    if n > nb.OPERATOR * 1000:
        ap.error("at most 19,000 orders in all (19 makers, 1,000 open orders each)")
    with devnet_node("sdex-peer-") as (_, signer, cfg):
        orders = [o.to_json() for o in signer.resting(n, list(range(nb.OPERATOR)))]
        per = args.per_round
        bodies = [orders[i * per : (i + 1) * per] for i in range(args.repeat + 1)]
        out = asyncio.run(rounds(cfg, bodies, args.chunk, args.subscriber, args.direct))
    medians = {k: statistics.median(r[k] for r in out) for k in out[0]}
    where = str(Path(sdex.__file__).parent)
    print(json.dumps({"sdex": where, "medians": medians, "machine": nb.machine()}))


if __name__ == "__main__":
    main()
