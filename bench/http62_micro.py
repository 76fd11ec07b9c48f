#!/usr/bin/env python3
"""In-process micro-benchmarks of http62's cuts in a wallet order's ``_accept`` (issue 11),
each against main's code (copied here as the reference), alternated round by round in one
process; µs per call on the thread's CPU clock, GC off in a round.

- ``clock``: the two clocks a wallet order is matched by: main's ``chain_time()`` then
  ``now()`` (which read the chain's clock again) against ``times()`` (read once).
- ``own_writes``: the ``with registry.own_writes(h)`` block around a wallet order's
  ``_accept`` (empty here): main's generator context manager against a class.
- ``ecdsa_crowded``: 48 wallet orders' ``await EcdsaBatcher.ecdsa_ok`` at once (a task
  each, as the requests in flight are) on a loop with no core spare: main's way (each
  waits for the turn's end, where the batch is recovered on the loop) against the check
  made at once. The signatures are recovered once before (``ecdsa_ok`` remembers its
  verdicts): what is timed is the way to the verdict, not the recovery.
- ``stays``: ``_stays`` of an order the engine removed nothing on the way for (every
  resting order's): main's generator over ``removed`` against the early return.

Prints one JSON object as ``bench/intake_micro.py`` does (its ``compared``): per piece, each
side's µs per order by round (sorted), and new ÷ old per round (sorted) with its median."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdex.ingest.cores import SpareCore
from sdex.ingest.verify import EcdsaBatcher
from sdex.matching.match import Outcome
from sdex.node.events import EventHub
from sdex.node.intake import _stays
from sdex.node.records import NodeState
from sdex.node.registry import OrderRegistry
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder, address_of, sign_order
from sdex.settlement.stages import MAX_LANDING, StageTimes
from sdex.watch.clocklead import BlockSpacing, ClockLead

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake_micro import Piece, compared


class MainClocks:
    """main's ``NodeState.chain_time`` and ``now`` (bc87da5), as they were."""

    pending_lead = 0.0

    def __init__(self, state: Any) -> None:
        self.__dict__.update(state.__dict__)

    def now(self) -> int:
        landing = self.settler.stages.landing if hasattr(self, "settler") else 0
        return self.chain_time() + min(MAX_LANDING, max(landing, self.spacing.value))

    def chain_time(self) -> int:
        t = time.time()
        lead = max(self.lead.value, self._watched_lead(), self.pending_lead)
        return max(
            self.latest_timestamp,
            self.watcher.latest_timestamp if hasattr(self, "watcher") else 0,
            int(t),
            math.ceil(t + lead) if lead > 0 else 0,
        )

    def _watched_lead(self) -> float:
        return self.watcher.lead.value if hasattr(self, "watcher") else 0.0


class MainOwn:
    """main's ``OrderRegistry.own_writes`` (bc87da5), over the same attribute."""

    def __init__(self) -> None:
        self._own: Any = None

    @contextlib.contextmanager
    def own_writes(self, hash_hex: str) -> Iterator[list[Any]]:
        own: list[Any] = []
        before, self._own = self._own, (hash_hex, own)
        try:
            yield own
        finally:
            self._own = before


class MainBatcher(EcdsaBatcher):
    """main's ``EcdsaBatcher.ecdsa_ok`` (bc87da5): always through the turn's batch."""

    async def ecdsa_ok(self, signed: SignedOrder) -> bool | None:
        if len(signed.signature) != 65:
            return None
        fut, own = self._start(signed, asyncio.get_running_loop())
        return await self._wait(signed, fut, own)


def crowded() -> SpareCore:
    """A core verdict of no core spare, held (its reading never due again)."""
    readings = iter([(1_000, 0), (2_000, 3_000)])
    core = SpareCore(read=lambda: next(readings), clock=lambda: 0.0, interval=0.0)
    core.spare()
    core.spare()
    core._interval, core._next = 1e9, 1e9
    assert core.last_spare is False
    return core


def ecdsa_round(
    batcher: EcdsaBatcher, orders: list[SignedOrder], loop: Any
) -> Callable[[], object]:
    async def one() -> None:
        oks = await asyncio.gather(*(batcher.ecdsa_ok(s) for s in orders))
        assert all(oks)

    return lambda: loop.run_until_complete(one())


def main_stays(mr: Any, pending: Callable[[], int]) -> bool:
    """main's ``_stays`` (bc87da5)."""
    o = mr.outcome
    if o is Outcome.EXPIRED or (o in (Outcome.DROPPED, Outcome.KILLED) and not pending()):
        return False
    h = mr.order.hash
    return not any(r == h for r, _ in mr.removed)


def node_state() -> NodeState:
    """A ``NodeState`` with what the clocks read (a started node's parts)."""
    state = object.__new__(NodeState)
    state.lead, state.spacing = ClockLead(), BlockSpacing()
    state.latest_timestamp = int(time.time())
    state.watcher = SimpleNamespace(latest_timestamp=int(time.time()), lead=ClockLead())  # type: ignore[assignment]
    state.settler = SimpleNamespace(stages=StageTimes())  # type: ignore[assignment]
    return state


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=200_000)
    args = ap.parse_args()
    new = node_state()
    old = MainClocks(new)
    # (what ``_stays`` reads of a wallet order that rests: its outcome, hash, no removals)
    mr: Any = SimpleNamespace(
        outcome=Outcome.RESTED, order=SimpleNamespace(hash=b"\x22" * 32), removed=()
    )
    pending = lambda: 0  # noqa: E731
    assert old.chain_time() == new.chain_time() and main_stays(mr, pending) == _stays(mr, pending)
    registry, main_own, h = OrderRegistry(EventHub()), MainOwn(), "0x" + "22" * 32

    def own_new() -> None:
        with registry.own_writes(h):
            pass

    def own_main() -> None:
        with main_own.own_writes(h):
            pass

    domain = Domain(31337, "0x" + "ab" * 20)
    keys = [(i + 1).to_bytes(32, "big") for i in range(48)]
    orders = [
        sign_order(
            Order(address_of(k), ZERO_ADDRESS, "0x" + "01" * 20, "0x" + "02" * 20,
                  10**18, 3000 * 10**6, ZERO_ADDRESS, 0, 2**40, i),
            domain, k,
        )
        for i, k in enumerate(keys)
    ]  # fmt: skip
    loop = asyncio.new_event_loop()
    ecdsa_main = ecdsa_round(MainBatcher(spare_core=crowded()), orders, loop)
    ecdsa_new = ecdsa_round(EcdsaBatcher(spare_core=crowded()), orders, loop)
    ecdsa_main()  # (the verdicts remembered: the rounds time the way to them)

    pieces: dict[str, Piece] = {
        "clock": (lambda: (old.chain_time(), old.now()), new.times, 1),
        "own_writes": (own_main, own_new, 1),
        "ecdsa_crowded": (ecdsa_main, ecdsa_new, len(orders)),
        "stays": (lambda: main_stays(mr, pending), lambda: _stays(mr, pending), 1),
    }
    ecdsa = {"ecdsa_crowded": pieces.pop("ecdsa_crowded")}  # (48 orders a call)
    out = compared(pieces, args.rounds, args.reps)
    out.update(compared(ecdsa, args.rounds, max(1, args.reps // 480)))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
