"""A push's own handling is paid at its orders' intake's price (flood79): the loop's wall
time its steps took (the request's signature checked, its body read, hashed and parsed),
``UNMEASURED`` times how crowded the loop's core is besides, ``INTAKE_SHARE`` of the loop
for a pusher's full budget (``metered.push_tokens``). Before, a push was priced as any
request, by the loop thread's CPU time (its steps' wall time over ``Crowding``): on a
crowded machine a pusher's budget bought its pushes' handling ~crowded times the loop its
intake's share allows (bench/gossip78_push_flood.py at crowded 8-12: a flood of valid pushes
still took ~2/3 of a wallet's rate).

A real gossip driver on loopback whose push bodies take ``DEAR`` seconds of the loop to
parse (burnt on the wall clock, as the meter reads it), its core as crowded as
``CROWDED`` says; an admitted peer pushes copies of orders the node holds (no intake: the
handling is all they cost) over signed HTTP, one after another or all at once, until
refused. The budget's clock stands still (no refill): its ``BURST`` tokens buy at most
``BURST * INTAKE_SHARE / RATE`` seconds of the loop, so at most that over ``DEAR`` pushes
(and the one into debt) are answered; another admitted peer's push is still taken."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from sdex import httpkit, jsonio
from sdex.gossip import GossipConfig, NodeKey, gate, routes
from sdex.gossip.client import PeerClient
from sdex.gossip.metered import INTAKE_SHARE, push_tokens
from sdex.httpkit import RateLimit
from tests.p2putil import Member, order, serve_gossip
from tests.pushrace import Crowded

RATE = 400.0
BURST = 400
LIMIT = RateLimit(rate=RATE, burst=BURST)
DEAR = 0.02
"""Seconds of the loop's wall clock each push's body takes to parse."""
BATCH = 10
PUSHES = 60


def dear_loads(raw: bytes, **limits: Any) -> object:
    end = time.perf_counter() + DEAR
    while time.perf_counter() < end:
        pass
    return jsonio.loads(raw, **limits)


async def push(client: PeerClient, member: Member, orders: list[dict[str, Any]]) -> bool:
    """One push: True if answered (its orders all known here), False if refused (429)."""
    body = {"orders": orders}
    got = await client.call("POST", member.url, "/p2p/orders", body, to=member.gossip.node_id)
    if got.status == 429:
        return False
    assert got.status == 200, got.body
    assert isinstance(got.body, dict) and got.body["known"] + got.body["accepted"] == BATCH
    return True


async def one_by_one(client: PeerClient, member: Member, orders: list[dict[str, Any]]) -> int:
    answered = 0
    for _ in range(PUSHES):
        if not await push(client, member, orders):
            break
        answered += 1
    return answered


async def all_at_once(client: PeerClient, member: Member, orders: list[dict[str, Any]]) -> int:
    return sum(await asyncio.gather(*(push(client, member, orders) for _ in range(PUSHES))))


async def seeded_member(
    crowded: float | None = None,
) -> tuple[Member, NodeKey, NodeKey, list[dict[str, Any]]]:
    """A gossip member (``LIMIT``; its loop ``crowded`` when given) with two peers admitted,
    a flooder (port 9) and an honest one (port 10), and ``BATCH`` orders it holds (a push of
    them: all known)."""
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], limit=LIMIT)
    await member.gossip.start()
    if crowded is not None:
        member.gossip.peer_costs.crowding = Crowded(crowded)
    flooder, honest = NodeKey.generate(), NodeKey.generate()
    for key, port in ((flooder, 9), (honest, 10)):
        assert member.gossip.peers.admit(key.node_id, f"http://127.0.0.1:{port}") is not None
    held = [order(i) for i in range(BATCH)]
    for o in held:
        assert await member.node.submit_from_peer(o, "seed") == "accepted"
    return member, flooder, honest, held


@pytest.mark.parametrize("crowded", [1.0, 8.0])
@pytest.mark.parametrize("pushing", [one_by_one, all_at_once])
async def test_a_pushers_pushes_buy_a_bounded_share_of_the_loop(
    pushing: Any, crowded: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, flooder, honest, held = await seeded_member(crowded)
    monkeypatch.setattr(routes, "jsonio", SimpleNamespace(loads=dear_loads))
    monkeypatch.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
    try:
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, flooder, "http://127.0.0.1:9")
            answered = await pushing(client, member, held)
            other = PeerClient(session, honest, "http://127.0.0.1:10")
            taken = await push(other, member, [order(10**6 + i) for i in range(BATCH)])
    finally:
        monkeypatch.undo()
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    bought = BURST * INTAKE_SHARE / RATE  # (seconds of the loop its whole budget buys)
    most = int(bought / DEAR) + 1  # (+ the push into debt)
    # before, at crowded 8: 36-60 of 60 answered (a push charged 1-2 tokens)
    assert 1 <= answered <= most, (answered, most)
    assert taken  # (its own budget)


@pytest.mark.parametrize(
    ("seconds", "crowded", "least"),
    [
        (0.0, 1.0, 1.0),  # (a token at least: ``admit`` took it)
        (0.003, 1.0, 0.003 * 300 / INTAKE_SHARE),  # (wall seconds at the intake's price)
        (0.003, 8.0, 0.003 * 300 / INTAKE_SHARE),  # (crowded: the wall time stands)
        (10.0, 4.0, 0.05 * 4 * 300 / INTAKE_SHARE),  # (bounded: ``MOST_SECONDS`` crowded)
    ],
)
def test_a_pushs_price_is_its_wall_time_at_the_intakes_share(
    seconds: float, crowded: float, least: float
) -> None:
    assert push_tokens(seconds, 300.0, crowded) >= least
    assert push_tokens(seconds, 300.0, crowded) <= max(1.0, least) + 100e-6 * crowded * 1000


async def test_a_peer_in_debt_is_refused_before_its_signature_is_recovered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A peer whose budget is spent had each of its next requests' signature recovered
    (~0.1-0.2 ms of the loop) before ``admit`` answered 429: free work, as fast as it sent
    them (no pause: a hostile flooder's). Now a connection that carried its proved request
    answers 429 from its budget alone to requests claiming its URL while it is spent; another
    peer's request on that very connection is heard as before."""
    member, flooder, honest, held = await seeded_member()
    recovered = [0]
    real = gate.verify_request

    def counted(*args: Any, **kwargs: Any) -> Any:
        recovered[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(gate, "verify_request", counted)
    monkeypatch.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
    try:
        connector = aiohttp.TCPConnector(limit=1)  # (one connection: the flooder's)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = PeerClient(session, flooder, "http://127.0.0.1:9")
            answered = 0
            while await push(client, member, held):  # (its budget spent, one push at a time)
                answered += 1
                assert answered < 1000
            before = recovered[0]
            refused = [await push(client, member, held) for _ in range(PUSHES)]
            after = recovered[0] - before
            other = PeerClient(session, honest, "http://127.0.0.1:10")  # (its connection)
            taken = await push(other, member, held)
    finally:
        monkeypatch.undo()
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    assert answered >= 1 and not any(refused)
    assert after == 0, after  # before: 60 of 60 (one recovery each)
    assert taken
