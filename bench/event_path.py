#!/usr/bin/env python3
"""An order event's own CPU, alone: ``HeldOrders.publish`` of ``added`` into an ``EventHub``
with one subscriber taking events as the node's websocket sender does (parked, its socket
lent to ``Subscription.put``: a turn's events framed by one ``Subscription.flush``; the
frames, made by ``text_frames``, go to no socket), against nobody subscribed.

gossip60: alone the path costs ~6 us an event; in the intake (``bench/peer_intake.py
--subscriber --direct``) one subscriber costs a new peer order 22-43 us, the event 10-22 of
them. ``--root DIR`` runs another checkout's ``sdex`` (a before/after in the same minutes:
alternate). ``queued_us``: the same subscriber not parked (busy writing, as while a node
settles a backlog): each event queued, each turn's taken by ``Subscription.ready_texts``
and framed. Events in turns of ``--turn`` (the loop yields between turns), best of
``--rounds`` rounds of ``--events``; GC on. Prints JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # before any ``sdex`` import
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from sdex.model import OrderStatus  # noqa: E402
from sdex.node.events import EventHub, text_frames  # noqa: E402
from sdex.node.held import HeldOrders, Record  # noqa: E402
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder  # noqa: E402

DOMAIN = Domain(31337, "0x" + "44" * 20)


class _NoBook:
    """A book that holds none of the records (their own status is their event's)."""

    def find(self, order_hash: bytes) -> None:
        return None


class _Sink:
    def room(self) -> bool:
        return True

    def write(self, texts: list[str]) -> None:
        text_frames(texts)


def _records(n: int) -> list[Record]:
    out = []
    for i in range(n):
        o = Order("0x" + "11" * 20, ZERO_ADDRESS, "0x" + "22" * 20, "0x" + "33" * 20,
                  10 + i, 20, ZERO_ADDRESS, 0, 2_000_000_000, i)  # fmt: skip
        rec = Record(SignedOrder(o, bytes(65), DOMAIN.order_hash(o)), i, "peer:127.0.0.1:9")
        rec.status = OrderStatus.OPEN
        rec.text()
        out.append(rec)
    return out


async def _run(
    subscribed: bool, events: int, turn: int, rounds: int, queued: bool = False
) -> float:
    hub = EventHub()
    held = HeldOrders(hub)
    held.attach(None, _NoBook())  # type: ignore[arg-type]  (``publish`` reads only ``find``)
    sub = None
    if subscribed:
        sub = hub.subscribe()
        if not queued:
            sub.direct, sub.parked = _Sink(), True
    recs = _records(events)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for k in range(0, len(recs), turn):
            for rec in recs[k : k + turn]:
                held.publish(rec, "added")
            if queued and sub is not None:  # (the sender's turn: what is queued, framed)
                text_frames(sub.ready_texts(64)[0])
            await asyncio.sleep(0)
        best = min(best, (time.process_time() - t0) / len(recs))
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=2048)
    ap.add_argument("--turn", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--root", help="run this checkout's sdex (default: this file's)")
    args = ap.parse_args()
    out = {"sdex": str(ROOT / "sdex")}
    for name, subscribed, queued in (
        ("subscribed_us", True, False),
        ("queued_us", True, True),
        ("nobody_us", False, False),
    ):
        us = asyncio.run(_run(subscribed, args.events, args.turn, args.rounds, queued))
        out[name] = round(us, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
