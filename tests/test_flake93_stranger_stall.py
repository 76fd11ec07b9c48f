"""A stall of the loop's thread inside a push's intake (a crowded machine's preemption: the
thread waits for a core) is not charged to its pusher (flake93, ``metered.cpu_clock``).

test_gossip's ``test_peer_gossiping_forged_orders_is_banned`` failed at load 23: its liar, a
stranger (ids not in the peer table share one budget, a quarter of the peers' rate), pushed
2 forged orders twice; the first push's intake was read on the wall clock, a preemption in
its steps charged whole (at crowded 20, 2 forged orders' intake read ~70 ms, a stall more:
each 0.15 s of it is the strangers' whole burst), and the second push was answered 429.

A real gossip driver on loopback (the node's defaults: peers 2,000 tokens a second, 4,000
at once; strangers a quarter) whose intake stands still ``STALL`` seconds on each new
order (``time.sleep``: as a machine that gives its thread no core), its core read
``CROWDED``; the budget's clock stands still (no refill). A stranger pushes one order, then
another: both answered 200 (before: the first cost ~2,000 tokens of the strangers' 1,000,
the second 429), and the strangers' budget paid less than the stall's wall time would."""

from __future__ import annotations

import functools
import time
from types import SimpleNamespace

import aiohttp
import pytest

from sdex import httpkit
from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.client import PeerClient
from sdex.gossip.gate import STRANGER_LIMITER_KEY, STRANGERS
from sdex.gossip.metered import INTAKE_SHARE
from sdex.httpkit import RateLimit
from tests.p2putil import MemoryNode, order, serve_gossip
from tests.pushrace import Crowded

RATE, BURST = 2_000.0, 4_000
"""The node's default ``peer_rate_limit`` (strangers: a quarter of each)."""
STALL = 0.3
"""Seconds the loop's thread stands still in one order's intake (twice the wall time the
strangers' burst buys at the intake's price)."""
CROWDED = 8.0
"""How crowded the loop's core reads (``Crowding``; 11-20 at load 20-28 here): a step's
charge at most ``MOST_SECONDS`` times it an order (0.4 s: the stall charged whole before)."""


class Stalled(MemoryNode):
    async def submit_from_peer(self, obj: object, peer: str) -> str:
        time.sleep(STALL)
        return await super().submit_from_peer(obj, peer)


async def test_a_stall_in_a_strangers_push_is_not_charged(monkeypatch: pytest.MonkeyPatch) -> None:
    member = await serve_gossip(
        GossipConfig(ae_interval=1e6), [], make=Stalled, limit=RateLimit(RATE, BURST)
    )
    await member.gossip.start()
    member.gossip.peer_costs.crowding = Crowded(CROWDED)
    stranger = NodeKey.generate()  # (not in the peer table)
    intake_paid = member.gossip.intake_paid  # (the /p2p/ sub-application's)
    assert isinstance(intake_paid, functools.partial)
    strangers = intake_paid.args[0][STRANGER_LIMITER_KEY]
    monkeypatch.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
    statuses = []
    try:
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, stranger, "http://127.0.0.1:9")
            for i in (1, 2):
                got = await client.call(
                    "POST", member.url, "/p2p/orders", {"orders": [order(i)]},
                    to=member.gossip.node_id,
                )  # fmt: skip
                statuses.append((got.status, got.body))
            paid = BURST // 4 - strangers.left(STRANGERS)
    finally:
        monkeypatch.undo()
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    assert [s for s, _ in statuses] == [200, 200], statuses  # (before: [200, 429])
    stall = STALL * RATE / INTAKE_SHARE  # (one stall's wall time at the intake's price)
    assert paid < stall / 4, (paid, stall)
