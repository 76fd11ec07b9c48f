"""An admitted peer's push flood at one node of ``bench/gossip.py``'s cluster (peers81,
``--flood``): a real gossip driver on loopback in the bench's process (admitted by the
node's hello, as ``bench/gossip78_push_flood.py``'s), pushing valid but worthless resting
orders over signed HTTP while the honest orders are posted: ``--flood`` pushes in flight,
``--flood-batch`` orders each, a refused push sent again after ``PAUSE`` seconds. What it
pushed, what was accepted and what was refused (429s; orders rejected unchecked, its
budget spent) are counted a window, so a window's refusals split into the flooder's and
the honest peers'. ``--flood-ids K`` (alike86): the same flood spread over ``K`` admitted
ids (``Split``), each its own key, driver and port, with every K-th of the orders and of
the pushes in flight (``sdex.gossip.alike``'s split-flood griefs: review84, review86b).

Under load the node drops connections of the driver's: a push whose call fails
(``PeerCallError``) is counted (``failed``) and sent again after ``PAUSE``, and the driver's
own server's "Cannot write to closing transport" (a node's stream upgrade it gave up on:
``ws.prepare`` in ``sdex.gossip.routes``, logged by aiohttp with a traceback) is counted
(``closing_transport``), not logged (``ClosingTransports``; peers93: stand89's and
stand91's stderr held 2-5 such tracebacks a window)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any

import aiohttp

from sdex.gossip import GossipConfig
from sdex.gossip.client import PeerCallError, PeerClient
from tests.p2putil import Member, serve_gossip

PAUSE = 0.05
"""Seconds a flooder's push waits after a 429 or a failed call (its client's CPU is the
machine's too)."""


class ClosingTransports(logging.Filter):
    """Counts and drops aiohttp's server log records of a connection the peer closed (a
    ``ConnectionResetError``: "Cannot write to closing transport"); every other passes."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ConnectionResetError):
            self.count += 1
            return False
        return True


QUIET = ClosingTransports()
logging.getLogger("aiohttp.server").addFilter(QUIET)


class Flooder:
    """The flooding peer: ``start`` it (admitted by ``url``'s node), then ``run`` a window."""

    def __init__(self, url: str, bodies: list[bytes], batch: int, inflight: int) -> None:
        self.url = url
        orders = [json.loads(b) for b in bodies]
        self.pushes = itertools.cycle([orders[k : k + batch] for k in range(0, len(orders), batch)])
        self.inflight = inflight
        self.member: Member | None = None
        self.session: aiohttp.ClientSession | None = None
        self.to = ""

    async def start(self) -> None:
        member = await serve_gossip(GossipConfig(dial_interval=0.1, ae_interval=1e6), [self.url])
        self.member = member
        await member.gossip.start()
        async with asyncio.timeout(60):
            while not member.gossip.peers.others(None):
                await asyncio.sleep(0.05)
        self.to = member.gossip.peers.others(None)[0].key
        self.session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.member is not None:
            await self.member.runner.shutdown()
            await self.member.gossip.stop()
            await self.member.runner.cleanup()

    async def run(self, stop: asyncio.Event) -> dict[str, int]:
        """Push until ``stop``: the window's counts (statuses; orders accepted, known and
        rejected)."""
        assert self.member is not None and self.session is not None
        client = PeerClient(self.session, self.member.gossip.key, self.member.url)
        tally: dict[str, int] = {}

        async def one() -> None:
            while not stop.is_set():
                body = {"orders": next(self.pushes)}
                try:
                    got = await client.call("POST", self.url, "/p2p/orders", body, to=self.to)
                except PeerCallError:
                    tally["failed"] = tally.get("failed", 0) + 1
                    await asyncio.sleep(PAUSE)
                    continue
                tally[str(got.status)] = tally.get(str(got.status), 0) + 1
                if got.status == 429:
                    await asyncio.sleep(PAUSE)
                elif got.status == 200 and isinstance(got.body, dict):
                    for k in ("accepted", "known", "rejected"):
                        tally[k] = tally.get(k, 0) + int(got.body.get(k, 0))

        await asyncio.gather(*(one() for _ in range(self.inflight)))
        return tally


class Split:
    """One flood over ``ids`` ``Flooder`` s (its own key and port each): each pushes every
    ``ids``-th of ``bodies`` with its share of ``inflight`` (at least one); their window's
    counts summed (``run``), and each id's apart (``ids_tallies``)."""

    def __init__(self, url: str, bodies: list[bytes], batch: int, inflight: int, ids: int) -> None:
        ids = max(1, ids)
        shares = [inflight // ids + (k < inflight % ids) for k in range(ids)]
        self.flooders = [Flooder(url, bodies[k::ids], batch, max(1, shares[k])) for k in range(ids)]
        self.ids_tallies: list[dict[str, int]] = []

    async def start(self) -> None:
        for f in self.flooders:  # (one at a time: each waits for its hello's admission)
            await f.start()

    async def stop(self) -> None:
        for f in self.flooders:
            await f.stop()

    async def run(self, stop: asyncio.Event) -> dict[str, int]:
        closing = QUIET.count
        self.ids_tallies = list(await asyncio.gather(*(f.run(stop) for f in self.flooders)))
        out: dict[str, int] = {"closing_transport": QUIET.count - closing}
        for tally in self.ids_tallies:
            for k, v in tally.items():
                out[k] = out.get(k, 0) + v
        return out


def split(refusals: dict[str, Any], flood: dict[str, int]) -> dict[str, Any]:
    """A window's ``peer_refusals`` (all nodes) less the flooder's own: the honest peers'."""
    out = dict(refusals)
    if refusals.get("throttled") is not None:
        out["honest_throttled"] = refusals["throttled"] - flood.get("429", 0)
    if refusals.get("orders_rejected_pusher_in_debt") is not None:
        unpaid = refusals["orders_rejected_pusher_in_debt"]
        out["honest_orders_rejected_pusher_in_debt"] = unpaid - flood.get("rejected", 0)
    return out
