"""Each order the intake checks in full is charged to its pusher once, and none it answers
``known`` at once (peers83).

Two holes in ``PeerChecks._pay``: a group whose call took more than one step was paid as
its turn ended and again as it ended, each time for all of its new orders (peers82's count:
20 orders for a push of 10; ``ORDER_UNMEASURED`` twice, ``/health`` ``intake.orders``
twice); and its copies were looked for as the group formed, so a copy whose held order was
cancelled before the group's call began was checked in full by the intake (parse, hash,
signature), answered ``known`` (its maker's cancel held: ``cancelled_on_arrival``), and
charged to nobody. Now the copies are looked for as the call begins, in the same step as
the intake's own look (``NodePeerIntake.submit_each_from_peer``), and each share's new
orders are charged ``ORDER_UNMEASURED`` once (``Group.charged``).

A real gossip driver on loopback (``tests.pushrace``'s ``Held`` node: ``DEAR`` seconds
of the loop thread's CPU each order it checks in full, its core read as crowded 1). X's
push of ``BATCH`` new orders is held in the intake while B pushes copies of them; B's copies
wait in the queue and their group forms once X's are held. Then X's orders are cancelled
(or not) as the gossip next asks whether one is held: ``soon`` after that step, ``now``
before it answers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from sdex import httpkit
from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.client import PeerClient
from sdex.gossip.gate import PEER_LIMITER_KEY
from sdex.gossip.metered import INTAKE_SHARE
from tests.p2putil import MemoryNode, order, serve_gossip
from tests.pushrace import BATCH, BURST, DEAR, LIMIT, RATE, Crowded, Held, burn, push, until

PRICE = DEAR * RATE / INTAKE_SHARE
"""Tokens an order checked in full costs its pusher at least (its ``DEAR`` of the loop
thread's CPU, at crowded 1)."""


class Cancelling(Held):
    """``Held``, whose intake looks for copies first, all in its call's first step, as the
    node's does, and answers ``known`` an order whose maker's cancel it holds after checking
    it in full; once ``armed``, its held orders ``doomed`` are cancelled as the gossip next
    asks whether one is held (``mode``)."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = ""
        self.armed = False
        self.doomed: list[str] = []
        self.cancelled: set[str] = set()
        self.worked: dict[str, int] = {}
        """Orders checked in full (``DEAR`` each), by pusher."""

    def cancel(self) -> None:
        for h in self.doomed:
            self.orders.pop(h, None)
            self.cancelled.add(h)

    def known_copy(self, obj: object) -> bool:
        if self.armed and self.mode:
            self.armed = False
            if self.mode == "now":
                self.cancel()
            else:
                asyncio.get_running_loop().call_soon(self.cancel)
        return super().known_copy(obj)

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        if isinstance(obj, dict) and obj.get("hash") not in self.orders:
            self.worked[peer] = self.worked.get(peer, 0) + 1
            if obj.get("hash") in self.cancelled:
                burn(DEAR)
                return "known"  # (its maker's cancel came first)
        return await super().submit_from_peer(obj, peer)

    async def submit_each_from_peer(
        self, objs: list[object], peer: str | list[str], reading: Callable[[], object] | None
    ) -> AsyncGenerator[tuple[int, str], None]:
        who = peer if isinstance(peer, list) else [peer] * len(objs)
        todo: list[int] = []
        for i, o in enumerate(objs):
            if MemoryNode.known_copy(self, o):  # (its own look: not ``armed``'s)
                yield i, "known"
            else:
                todo.append(i)
        for i in todo:
            yield i, await self.submit_from_peer(objs[i], who[i])


async def race(mode: str) -> dict[str, Any]:
    """X's batch held in the intake, B's copies of it queued; X's orders cancelled per
    ``mode`` ("": never). The pushes' answers, the orders each pusher was checked in full for
    and charged for, each one's spent tokens, and ``/health``'s intake orders."""
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=Cancelling, limit=LIMIT)
    node = member.node
    assert isinstance(node, Cancelling)
    node.mode = mode
    await member.gossip.start()
    member.gossip.peer_costs.crowding = Crowded(1.0)  # (a CPU second a second of the loop)
    x, b = NodeKey.generate(), NodeKey.generate()
    for key, port in ((x, 9), (b, 11)):
        assert member.gossip.peers.admit(key.node_id, f"http://127.0.0.1:{port}") is not None
    paid = member.gossip.intake_paid  # (the /p2p/ sub-application's: ``routes.p2p_app``)
    assert isinstance(paid, functools.partial)
    limiter = paid.args[0][PEER_LIMITER_KEY]
    charged = {x.node_id: 0, b.node_id: 0}

    def counted(sender: str, seconds: float, new: int, on_loop: int, *once: int) -> None:
        charged[sender] += once[0] if once else new  # (before peers83: ``new``, each time)
        paid(sender, seconds, new, on_loop, *once)

    member.gossip.intake_paid = counted
    firsts = [order(i) for i in range(BATCH)]
    node.doomed = [o["hash"] for o in firsts]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
        try:
            async with aiohttp.ClientSession() as session:
                pushed = asyncio.create_task(
                    push(PeerClient(session, x, "http://127.0.0.1:9"), member, firsts)
                )
                await until(lambda: node.waiting)  # (X's orders in the intake, held)
                copies = asyncio.create_task(
                    push(PeerClient(session, b, "http://127.0.0.1:11"), member, firsts)
                )
                await until(lambda: len(member.gossip.checks._queue) == 2)  # (X's, B's)
                node.armed = True
                node.gate.set()
                got = await asyncio.gather(pushed, copies)
            spent = {k: BURST - limiter.left(key.node_id) for k, key in (("x", x), ("b", b))}
        finally:
            await member.runner.shutdown()
            await member.gossip.stop()
            await member.runner.cleanup()
    intake = member.gossip.peer_costs.to_json()["intake"]
    assert isinstance(intake, dict)
    return {
        "got": got,
        "worked": {k: node.worked.get(key.node_id, 0) for k, key in (("x", x), ("b", b))},
        "charged": {k: charged[key.node_id] for k, key in (("x", x), ("b", b))},
        "spent": spent,
        "orders": intake["orders"],
    }


@pytest.mark.parametrize(
    ("mode", "b_checked"),
    [
        ("", False),  # (never: X's group paid twice, its 10 orders charged as 20)
        ("soon", None),  # (cancelled between the group's forming and its call: B's 10 free)
        ("now", True),  # (cancelled before the look: B's charged, X's twice)
    ],
)
async def test_each_order_checked_in_full_is_charged_once(
    mode: str, b_checked: bool | None
) -> None:
    got = await race(mode)
    assert [g["accepted"] for g in got["got"]] == [BATCH, 0], got
    assert got["got"][1]["known"] == BATCH, got
    worked, charged = got["worked"], got["charged"]
    assert worked["x"] == BATCH, got
    if b_checked is not None:
        assert worked["b"] == (BATCH if b_checked else 0), got
    assert charged == worked, got
    assert got["orders"] == worked["x"] + worked["b"], got  # (``/health``: once each)
    for k in ("x", "b"):
        assert got["spent"][k] >= 0.8 * worked[k] * PRICE, got
