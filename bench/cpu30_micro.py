#!/usr/bin/env python3
"""In-process micro-benchmarks of cpu30's two cuts of a node's per-order work (issue 11),
each against what it replaced, alternated round by round in one process (a shared machine's
noise hits both sides alike); µs per order on the thread's CPU clock, GC off in a round
(``bench/intake_micro.py``'s way).

- ``wallet_clocks``: ``forwardTiming`` for a wallet's order, from ``begin`` through its
  hand-over, ``add`` and its pushes' turn (``spawned``, ``_written``): every call timed
  (``every`` 1, main's behaviour) against one in ``--every``.
- ``peer_clocks``: the same for a peer's chunk of ``--chunk`` new orders.
- ``event``: an order event's text, ``metaData`` encoded (main's ``order_event_text``)
  against formatted directly (``heldrecord.event_meta_text``).

Prints one JSON object: per piece, each side's µs per order by round (sorted), and new ÷
old per round (sorted) with its median."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake_micro import compared

from sdex.model import OrderStatus
from sdex.node.events import Event, encode_json
from sdex.node.forwarding import ForwardTiming
from sdex.node.heldrecord import Record, order_event_text
from sdex.order import Order, SignedOrder


def _old_event_text(ev: Event, rec: Record, text: str | None = None) -> str:
    """main's ``order_event_text`` (c4cf645..78d2947)."""
    ev["metaData"]["sentAt"] = time.time()
    event, meta = encode_json(ev["event"]), encode_json(ev["metaData"])
    return (
        f'{{"seq": {ev["seq"]}, "type": "order", "event": {event}, '
        f'"order": {text if text is not None else rec.text()}, "metaData": {meta}}}'
    )


def clocks(source: str, chunk: int, every: int) -> Callable[[], None]:
    """One intake call of ``source`` as the node makes it, ``every``: 1 in that many timed."""
    fw = ForwardTiming(every=every)

    def call() -> None:
        started = fw.begin(source)
        handed = fw.handed
        if source == "wallet":
            fw.clocked = started is not None
            fw.handed_over()
            fw.clocked = True
            if started is not None:
                fw.add(source, started, fw.last(), fw.handed - handed)
        else:
            for _ in range(chunk):
                fw.passed_on()
            if started is not None:
                fw.add(source, started, fw.mark(fw.handed), chunk)
        fw.spawned()  # (no loop here: its pushes' turn run at once)
        fw._written()

    return call


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--reps", type=int, default=4000, help="calls a side a round")
    ap.add_argument("--chunk", type=int, default=2, help="new orders in a peer's chunk")
    ap.add_argument("--every", type=int, default=8)
    args = ap.parse_args()
    o = Order("0x" + "ab" * 20, "0x" + "00" * 20, "0x" + "cd" * 20, "0x" + "ef" * 20,
              10**18, 3 * 10**9, "0x" + "00" * 20, 0, 2**40, 2**200 + 12345)  # fmt: skip
    rec = Record(SignedOrder(o, b"\x11" * 65, b"\x22" * 32), 1, "peer:127.0.0.1:9")
    text = rec.text()

    def event() -> Event:
        now = time.time()
        meta = {"orderHash": rec.signed.hash_hex, "status": OrderStatus.OPEN,
                "filledMakerAmount": "0", "pendingMakerAmount": "0",
                "remainingFillableMakerAmount": str(10**18), "remainingMakerAmount": str(10**18),
                "createdAt": rec.created_at, "source": rec.source, "reason": "",
                "publishedAt": now}  # fmt: skip
        return {"seq": 7, "type": "order", "event": "added", "order": rec.json, "metaData": meta}

    ev = event()
    got = order_event_text(ev, rec, text)
    assert got == encode_json({**ev, "order": rec.json}), got  # (the same text as the old)
    pieces = {
        "wallet_clocks": (clocks("wallet", 1, 1), clocks("wallet", 1, args.every), 1),
        "peer_clocks": (
            clocks("peer", args.chunk, 1),
            clocks("peer", args.chunk, args.every),
            args.chunk,
        ),
        "event": (
            (lambda: _old_event_text(ev, rec, text)),
            (lambda: order_event_text(ev, rec, text)),
            1,
        ),
    }
    out: dict[str, object] = {"rounds": args.rounds, "reps": args.reps, "chunk": args.chunk,
                              "every": args.every}  # fmt: skip
    out.update(compared(pieces, args.rounds, args.reps))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
