"""A copy that turned new is its pusher's to pay for (peers82, review81).

``PeerChecks`` judges, as a group forms, which of each push's orders are copies held here
(``known``): a copy costs its pusher none of the group's intake (flood80). A copy whose held
order is evicted or cancelled after the group formed, before the intake reaches it, is
checked as new: before, its pusher paid nothing for that (its share counted no new order),
the other pushers of its group paid for it, and the node's ``intake.orders`` did not count
it; and the ``known`` check itself (a deep compare an order, on the loop outside the group's
task) was nobody's. Now each order the intake checked as new is charged to its pusher once,
and the check is its pusher's too.

A real gossip driver on loopback (``tests.test_flood80_copies``'s ``Held`` node: ``DEAR``
seconds of the loop's wall clock each new order). X's push of ``BATCH`` orders is held in
the intake while A pushes ``BATCH`` new orders and B copies of X's; A's and B's go in one
group once X's are held, and A's first order evicts X's (the node's book full, or their
maker's cancel applied), so B's copies are checked as new."""

from __future__ import annotations

import asyncio
import functools
import time
from types import SimpleNamespace

import aiohttp
import pytest

from sdex import httpkit
from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.client import PeerClient
from sdex.gossip.gate import PEER_LIMITER_KEY
from sdex.gossip.metered import INTAKE_SHARE
from tests.p2putil import order, serve_gossip
from tests.test_flood80_copies import BATCH, BURST, DEAR, LIMIT, RATE, Held, push, until


class Evicting(Held):
    """``Held``, whose intake evicts the orders ``evicted`` as it takes ``trigger``."""

    def __init__(self) -> None:
        super().__init__()
        self.trigger = ""
        self.evicted: list[str] = []
        self.new = 0
        """Orders its intake checked as new (``DEAR`` each)."""

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        if isinstance(obj, dict) and obj.get("hash") == self.trigger:
            for h in self.evicted:
                self.orders.pop(h, None)
        if isinstance(obj, dict) and obj.get("hash") not in self.orders:
            self.new += 1
        return await super().submit_from_peer(obj, peer)


class Looking(Held):
    """``Held``, whose ``known`` check of an order it holds (a deep compare of the two)
    takes ``LOOK`` seconds of the loop (of one it does not hold, none: a lookup)."""

    def known_copy(self, obj: object) -> bool:
        if isinstance(obj, dict) and obj.get("hash") in self.orders:
            end = time.thread_time() + LOOK  # (the loop thread's CPU: as it is read)
            while time.thread_time() < end:
                pass
        return super().known_copy(obj)


LOOK = 0.004
"""Seconds a ``Looking`` node's ``known`` check takes an order (~5 tokens at ``RATE``)."""


async def _race(
    make: type[Held],
) -> tuple[Held, dict[str, float], list[dict[str, int]], dict[str, int]]:
    """X's batch held in the intake, A's new orders then B's copies of X's queued behind it;
    the node, what each pusher was charged, the pushes' answers, and the new orders each
    pusher was charged for (once each: peers83)."""
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=make, limit=LIMIT)
    node = member.node
    assert isinstance(node, Held)
    await member.gossip.start()
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
    if isinstance(node, Evicting):
        node.trigger, node.evicted = own[0]["hash"], [o["hash"] for o in firsts]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
        try:
            async with aiohttp.ClientSession() as session:
                pushed = asyncio.create_task(
                    push(PeerClient(session, x, "http://127.0.0.1:9"), member, firsts)
                )
                await until(lambda: node.waiting)  # (X's orders in the intake, held)
                news = asyncio.create_task(
                    push(PeerClient(session, a, "http://127.0.0.1:10"), member, own)
                )
                await until(lambda: len(member.gossip.checks._queue) == 2)  # (X's, A's)
                copies = asyncio.create_task(
                    push(PeerClient(session, b, "http://127.0.0.1:11"), member, firsts)
                )
                await until(lambda: len(member.gossip.checks._queue) == 3)  # (and B's)
                node.gate.set()
                got = await asyncio.gather(pushed, news, copies)
            keys = (("x", x), ("a", a), ("b", b))  # (read while the clock stands still)
            spent = {k: BURST - limiter.left(key.node_id) for k, key in keys}
            charged = {k: orders[key.node_id] for k, key in keys}
        finally:
            await member.runner.shutdown()
            await member.gossip.stop()
            await member.runner.cleanup()
    return node, spent, got, charged


async def test_a_copy_turned_new_is_charged_to_its_pusher() -> None:
    node, spent, got, charged = await _race(Evicting)
    assert isinstance(node, Evicting)
    assert [g["accepted"] for g in got] == [BATCH, BATCH, BATCH], got  # (B's: new again)
    assert node.new == 3 * BATCH
    # before: B none (its 10 checked as new charged to nobody as orders)
    assert charged["a"] == charged["b"] == BATCH, charged
    new_orders = BATCH * DEAR * RATE / INTAKE_SHARE  # (a batch's intake at its wall price)
    # before: B a token (its push's handling), A all of the group's (B's 10 and its own);
    # after, half each (each share's orders at least ``DEAR`` of the wall clock each)
    assert spent["b"] >= 0.8 * new_orders, spent


async def test_the_copy_check_as_a_group_forms_is_its_pushers() -> None:
    """B's copies stay copies: the ``known`` check of them as the group formed is B's."""
    _node, spent, got, charged = await _race(Looking)
    assert [g["accepted"] for g in got] == [BATCH, BATCH, 0], got
    assert got[2]["known"] == BATCH
    assert charged["a"] == BATCH and charged["b"] == 0, charged
    looked = BATCH * LOOK * RATE / INTAKE_SHARE  # (its check as the group formed)
    # before: B paid its push's handling only (its arrival's check within it, at most
    # ``MOST_SECONDS``); the group's check of its copies was nobody's
    assert spent["b"] >= looked, spent
