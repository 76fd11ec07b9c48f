"""Three pushers' batches racing in one intake group (flood80, peers82).

A real gossip driver on loopback (``tests.p2putil.serve_gossip``) whose node is a ``Held``:
its intake burns ``DEAR`` seconds of the loop thread's CPU on each new order (as the
intake's meter reads it: ``metered.cpu_clock``, flake93), the first one's once its ``gate``
is set; its core read as ``Crowded`` 1 unless a test says how crowded (a CPU second is then
a second of the loop's wall, whatever the machine's load). Peer X's push of ``BATCH`` new
orders is held in the intake while peers A (``BATCH`` new orders of its own) and B (copies
of X's) push behind it, in the order a test names; both wait in the check queue and go in
one group once X's are held. The budget's clock stands still (no refill): what each was
charged is its bucket's burst less what is left."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from sdex import httpkit
from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.client import PeerClient
from sdex.gossip.gate import PEER_LIMITER_KEY
from sdex.gossip.metered import Crowding
from sdex.gossip.timing import GC_PAUSES
from sdex.httpkit import RateLimit, RateLimiter
from tests.p2putil import Member, MemoryNode, order, serve_gossip

RATE = 400.0
BURST = 4_000
LIMIT = RateLimit(rate=RATE, burst=BURST)
DEAR = 0.02
"""Seconds of the loop thread's CPU each new order's intake takes (0.02 * RATE /
INTAKE_SHARE: ~27 tokens at crowded 1; a batch's ~267, where B's push's own handling takes
a few). flake94: spun on the wall clock, at load ~20 on 2 cores the spin got ~0.2 of a
core, and the intake's CPU meter read ~0.2 of ``DEAR`` (X's batch 50-60 tokens of 267)."""
BATCH = 10


class Crowded(Crowding):
    """A loop thread that waits ``factor - 1`` times as long for a core as it runs."""

    def __init__(self, factor: float) -> None:
        super().__init__("/nonexistent")
        self.factor = factor

    def now(self) -> float:
        return self.factor


class Held(MemoryNode):
    """A node whose intake burns ``DEAR`` of its thread's CPU on a new order (``burn``), the
    first one's once ``gate`` is set (``waiting`` meanwhile)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = False

    def racing(self, firsts: list[dict[str, Any]], own: list[dict[str, Any]]) -> None:
        """Told X's orders (``firsts``, B's copies of them) and A's (``own``) before the race."""

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        if isinstance(obj, dict) and obj.get("hash") not in self.orders:
            if not self.gate.is_set():
                self.waiting = True
                await self.gate.wait()
            burn(DEAR)
        return await super().submit_from_peer(obj, peer)


def burn(seconds: float) -> None:
    """Spin until the calling thread ran ``seconds`` of CPU (the intake's meter's clock)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def until(cond: Any, seconds: float = 60.0) -> None:
    async with asyncio.timeout(seconds):
        while not cond():
            await asyncio.sleep(0.01)


def queued(member: Member, pushes: int) -> Callable[[], bool]:
    """Whether ``pushes`` pushes wait in ``member``'s check queue."""
    return lambda: len(member.gossip.checks._queue) == pushes


async def push(client: PeerClient, member: Member, orders: list[dict[str, Any]]) -> Any:
    body = {"orders": orders}
    got = await client.call("POST", member.url, "/p2p/orders", body, to=member.gossip.node_id)
    assert got.status == 200, got.body
    return got.body


@dataclass
class Race:
    node: Held
    spent: dict[str, float]
    """Tokens each pusher (``x``, ``a``, ``b``) was charged."""
    got: list[dict[str, Any]]
    """The pushes' answers: X's, then the two others' in the order they pushed."""
    charged: dict[str, int]
    """The new orders each pusher was charged for (once each: peers83)."""


async def race(make: type[Held], behind: str, crowded: float = 1.0) -> Race:
    """X's batch held in the intake, then ``behind``'s pushers (``"ab"`` or ``"ba"``) queued
    behind it, one after the other; the node's loop thread read ``crowded``."""
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=make, limit=LIMIT)
    node = member.node
    assert isinstance(node, Held)
    await member.gossip.start()
    member.gossip.peer_costs.crowding = Crowded(crowded)
    x, a, b = NodeKey.generate(), NodeKey.generate(), NodeKey.generate()
    for key, port in ((x, 9), (a, 10), (b, 11)):
        assert member.gossip.peers.admit(key.node_id, f"http://127.0.0.1:{port}") is not None
    paid = member.gossip.intake_paid  # (the /p2p/ sub-application's: ``routes.p2p_app``)
    assert isinstance(paid, functools.partial)
    limiter = paid.args[0][PEER_LIMITER_KEY]
    orders: dict[str, int] = {x.node_id: 0, a.node_id: 0, b.node_id: 0}

    def counted(sender: str, seconds: float, new: int, on_loop: int, once: int) -> None:
        orders[sender] += once  # (the new orders each pusher was charged for)
        paid(sender, seconds, new, on_loop, once)

    member.gossip.intake_paid = counted
    firsts = [order(i) for i in range(BATCH)]
    own = [order(10**6 + i) for i in range(BATCH)]
    node.racing(firsts, own)
    pushers = {"a": (a, "http://127.0.0.1:10", own), "b": (b, "http://127.0.0.1:11", firsts)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
        try:
            async with aiohttp.ClientSession() as session:
                tasks = [
                    asyncio.create_task(
                        push(PeerClient(session, x, "http://127.0.0.1:9"), member, firsts)
                    )
                ]
                await until(lambda: node.waiting)  # (X's orders in the intake, held)
                for name in behind:
                    key, url, batch = pushers[name]
                    tasks.append(
                        asyncio.create_task(push(PeerClient(session, key, url), member, batch))
                    )
                    await until(queued(member, len(tasks)))
                node.gate.set()
                got = await asyncio.gather(*tasks)
            keys = (("x", x), ("a", a), ("b", b))  # (read while the clock stands still)
            spent = {k: BURST - limiter.left(key.node_id) for k, key in keys}
            charged = {k: orders[key.node_id] for k, key in keys}
        finally:
            await member.runner.shutdown()
            await member.gossip.stop()
            await member.runner.cleanup()
    return Race(node, spent, list(got), charged)


@dataclass
class OnePusher:
    """A gossip driver on loopback and the one peer it admitted (its URL port 9), the
    driver's peer bucket of ``burst`` tokens (``limiter``) with its clock standing still."""

    member: Member
    key: NodeKey
    limiter: RateLimiter
    burst: int

    async def paid_for_one(self) -> tuple[float, float]:
        """The peer's push of one new order (accepted): the tokens it paid (the burst less
        what is left) and the collections' pause (``GC_PAUSES``) meanwhile, in seconds."""
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, self.key, "http://127.0.0.1:9")
            paused = GC_PAUSES.seconds
            body = {"orders": [order(1)]}
            got = await client.call(
                "POST", self.member.url, "/p2p/orders", body, to=self.member.gossip.node_id
            )
            paused = GC_PAUSES.seconds - paused
            assert got.status == 200 and got.body["accepted"] == 1, got.body
            return self.burst - self.limiter.left(self.key.node_id), paused


@asynccontextmanager
async def one_pusher(
    make: type[MemoryNode], rate: float, burst: int, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[OnePusher]:
    """A started driver whose node is a ``make`` (``GC_PAUSES`` installed by its start), one
    peer admitted, the budget's clock standing still (no refill) till the end (with every
    ``monkeypatch`` set: undone before the driver stops)."""
    member = await serve_gossip(
        GossipConfig(ae_interval=1e6), [], make=make, limit=RateLimit(rate, burst)
    )
    await member.gossip.start()
    key = NodeKey.generate()
    assert member.gossip.peers.admit(key.node_id, "http://127.0.0.1:9") is not None
    intake_paid = member.gossip.intake_paid
    assert isinstance(intake_paid, functools.partial)
    limiter = intake_paid.args[0][PEER_LIMITER_KEY]
    monkeypatch.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
    try:
        yield OnePusher(member, key, limiter, burst)
    finally:
        monkeypatch.undo()
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
