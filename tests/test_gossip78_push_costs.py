"""A push's new orders are paid for by their pusher (gossip78): the loop time the intake's
steps take on them (``sdex.gossip.checks``, a group's by its orders' shares) and
``ORDER_UNMEASURED`` each (their signatures, their rows) are charged to its request budget
at the price a request's loop time pays (``metered.intake_tokens``), and a pusher in debt
has its pushes' orders not yet in the intake rejected unchecked. Before, the intake was the
node's shared work, free for whoever pushed: an admitted peer's push cost it a token or two
whatever its orders cost, so one peer pushing valid but worthless orders took the loop from
every other peer and the wallets.

A real gossip driver on loopback whose intake takes ``DEAR`` seconds of the loop thread's
CPU an order (burnt on the CPU clock: a crowded machine does not shorten it); an admitted
peer pushes batches of new orders over signed HTTP, one after another or all at once,
until refused. The budget's clock stands still (no refill): its ``BURST`` tokens buy at
most ``BURST * INTAKE_SHARE / RATE`` seconds of the loop, a few orders; another admitted
peer's push is still taken in full."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from sdex import httpkit
from sdex.gossip import GossipConfig, NodeKey, metered
from sdex.gossip.client import PeerClient
from sdex.gossip.metered import (
    CROWDING_EVERY,
    INTAKE_SHARE,
    ORDER_UNMEASURED,
    Crowding,
    intake_tokens,
)
from sdex.httpkit import RateLimit
from tests import p2putil
from tests.p2putil import Member, order, serve_gossip

RATE = 400.0
"""The peers' request budget a second: a token buys ``INTAKE_SHARE / RATE`` (0.75 ms) of a
push's intake."""
BURST = 40
LIMIT = RateLimit(rate=RATE, burst=BURST)
DEAR = 0.002
"""Seconds of the loop thread's CPU each new order's intake takes (~2.7 tokens' worth)."""
BATCH = 10
PUSHES = 40


class Dear(p2putil.Dear):
    """A node whose intake takes ``DEAR`` seconds of the loop's CPU an order."""

    dear = DEAR


def batch(first: int) -> list[dict[str, Any]]:
    return [order(first + i) for i in range(BATCH)]


async def push(client: PeerClient, member: Member, first: int) -> dict[str, int] | None:
    """One push of ``BATCH`` new orders: its counts, None if refused (429)."""
    body = {"orders": batch(first)}
    got = await client.call("POST", member.url, "/p2p/orders", body, to=member.gossip.node_id)
    if got.status == 429:
        return None
    assert got.status == 200, got.body
    assert isinstance(got.body, dict)
    return got.body


async def one_by_one(client: PeerClient, member: Member) -> int:
    accepted = 0
    for k in range(PUSHES):
        counts = await push(client, member, 1_000 * k)
        if counts is None:
            break
        accepted += counts["accepted"]
    return accepted


async def all_at_once(client: PeerClient, member: Member) -> int:
    got = await asyncio.gather(*(push(client, member, 1_000 * k) for k in range(PUSHES)))
    return sum(c["accepted"] for c in got if c is not None)


@pytest.mark.parametrize("pushing", [one_by_one, all_at_once])
async def test_a_pushers_orders_buy_a_bounded_share_of_the_loop(
    pushing: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=Dear, limit=LIMIT)
    await member.gossip.start()
    flooder, honest = NodeKey.generate(), NodeKey.generate()
    for key, port in ((flooder, 9), (honest, 10)):
        assert member.gossip.peers.admit(key.node_id, f"http://127.0.0.1:{port}") is not None
    monkeypatch.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
    try:
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, flooder, "http://127.0.0.1:9")
            accepted = await pushing(client, member)
            other = PeerClient(session, honest, "http://127.0.0.1:10")
            counts = await push(other, member, 10**6)
    finally:
        monkeypatch.undo()
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    bought = BURST * INTAKE_SHARE / RATE  # (seconds of the loop its whole budget buys)
    most = bought / (DEAR + ORDER_UNMEASURED) + BATCH  # (+ the push into debt)
    assert 1 <= accepted <= most, (accepted, most)  # before: 260-400 (one by one, all at once)
    assert counts == {"accepted": BATCH, "known": 0, "rejected": 0}  # (its own budget)
    intake = member.gossip.peer_costs.to_json()["intake"]
    assert isinstance(intake, dict) and intake["orders"] >= accepted


@pytest.mark.parametrize(
    ("readings", "factor"),
    [
        ([(0, 0), (100_000_000, 0)], 1.0),  # (never waited for a core)
        ([(0, 0), (100_000_000, 600_000_000)], 7.0),  # (~1/7 of a core: the bench's machine)
        ([(0, 0), (100_000_000, 10**12)], 20.0),  # (bounded: ``CROWDED_MOST``)
        ([(0, 0), (5_000_000, 600_000_000)], 1.0),  # (too little run to tell: as it was)
        ([(0, 0)], 1.0),  # (one reading: nothing to compare)
    ],
)
def test_crowding_is_the_loop_threads_run_and_wait_over_its_run(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, readings: list[tuple[int, int]], factor: float
) -> None:
    """``Crowding`` prices a CPU second of the loop by how long its thread waited for a core
    besides (gossip78: on a crowded machine a pusher's budget was all the loop got)."""
    stat = tmp_path / "schedstat"
    crowding = Crowding(str(stat))
    clock = [0.0]
    monkeypatch.setattr(metered, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    for run, wait in readings:
        stat.write_text(f"{run} {wait} 5\n")
        crowding.now()
        clock[0] += CROWDING_EVERY
    assert crowding.factor == pytest.approx(factor)
    stat.write_text("junk\n")
    assert crowding.now() == pytest.approx(factor)  # (unreadable: as it was)
    assert Crowding(str(tmp_path / "none")).now() == 1.0
    # (the steps' wall time is crowded already; the orders' unmeasured CPU is made so)
    assert intake_tokens(0.001, 0, 300.0, factor) == pytest.approx(0.001 * 300.0 / INTAKE_SHARE)
    unmeasured = ORDER_UNMEASURED * factor * 300.0 / INTAKE_SHARE
    assert intake_tokens(0.0, 1, 300.0, factor) == pytest.approx(unmeasured)
