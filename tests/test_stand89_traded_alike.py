"""stand89: the alike judging of intake charges (``sdex.gossip.alike``) reads the pushers'
standing, an order each delivered first traded lately (``Peers.has_traded``, credited by a
fill that paid this node its fee: ``readbudget.credit_trades``), through the push's intake
charge (``gate.intake_spent``); and that standing is kept across a restart.

A real gossip driver on loopback whose intake takes ``DEAR`` seconds of the loop thread's CPU
an order (``tests/test_peers81_alike.py``'s): 4 honest relays push ``RELAY`` orders a round,
3 admitted ids ``CHEAP`` each (review86b's ids above ``NEAR``'s floor, below a third of a
relay), over signed HTTP. The budget's clock stands still: its ``BURST`` tokens buy
``BUDGET`` seconds of the loop, fewer than a relay's ``ROUNDS`` pushes' intake. The relays
credited a trade are served to the end; without one (a node asking no fee credits none), the
charges alone judge them and the cheap ids' count median puts them in debt (review86b)."""

from __future__ import annotations

import functools
import time
from types import SimpleNamespace

import aiohttp
import pytest

from sdex import httpkit
from sdex.gossip import GossipConfig, NodeKey, metered
from sdex.gossip.client import PeerClient
from sdex.gossip.metered import INTAKE_SHARE, Crowding
from sdex.gossip.peers import Peers
from sdex.gossip.standings import TRADED_SECONDS
from sdex.httpkit import RateLimit
from tests import p2putil
from tests.p2putil import order, serve_gossip
from tests.test_sybil77_earned_reads import Clock

RATE = 400.0
BUDGET = 0.15
"""Seconds of the loop a peer's whole budget buys (``BURST * INTAKE_SHARE / RATE``)."""
BURST = int(BUDGET * RATE / INTAKE_SHARE)
DEAR = 0.002
"""Seconds of the loop thread's CPU each new order's intake takes."""
RELAY, CHEAP = 11, 2
"""Orders a relay's push and a cheap id's (2/11 of a relay: above 1/12, below 1/3)."""
ROUNDS = 30
"""A relay's intake, ``ROUNDS * RELAY * DEAR`` (0.66 s), is past ``BUDGET``; a cheap id's
(0.12 s) is not."""
STALLED = ROUNDS // 5
"""A relay's pushes a loaded machine may see refused (a stall charged to one pusher puts it
past the others' median for a few rounds; tests/test_peers81_alike.py's)."""


class Dear(p2putil.Dear):
    dear = DEAR


async def rounds(traded: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """``ROUNDS`` rounds: the 3 cheap ids push ``CHEAP`` orders each, then the 4 relays
    ``RELAY`` each (credited a trade first if ``traded``). Each one's refused pushes."""
    cfg = GossipConfig(ae_interval=1e6, dial_interval=1e6)  # (no dials: test_peers81_alike)
    member = await serve_gossip(cfg, [], make=Dear, limit=RateLimit(rate=RATE, burst=BURST))
    await member.gossip.start()
    keys = [NodeKey.generate() for _ in range(7)]  # (3 cheap ids, then 4 relays)
    peers = member.gossip.peers
    for i, key in enumerate(keys):
        assert peers.admit(key.node_id, f"http://127.0.0.1:{10 + i}") is not None
        if traded and i >= 3:
            assert peers.traded(key.node_id, 1)  # (as ``credit_trades`` does for a paid fill)
    assert [peers.has_traded(k.node_id) for k in keys] == 3 * [False] + 4 * [traded]
    assert isinstance(member.gossip.intake_paid, functools.partial)
    monkeypatch.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
    costs = member.gossip.peer_costs  # (the loop thread's CPU: test_peers81_alike's reasons)
    monkeypatch.setattr(metered, "clock", time.thread_time)
    costs.pushers.clock = time.thread_time
    monkeypatch.setattr(costs, "crowding", Crowding(path="/nonexistent/schedstat"))
    refused = [0] * len(keys)
    try:
        async with aiohttp.ClientSession() as session:
            clients = [
                PeerClient(session, key, f"http://127.0.0.1:{10 + i}") for i, key in enumerate(keys)
            ]
            n = 0
            for _ in range(ROUNDS):
                for i, client in enumerate(clients):
                    batch = CHEAP if i < 3 else RELAY
                    body = {"orders": [order(1_000 * (n := n + 1) + j) for j in range(batch)]}
                    got = await client.call(
                        "POST", member.url, "/p2p/orders", body, to=member.gossip.node_id
                    )
                    assert got.status in (200, 429), got.body
                    refused[i] += got.status == 429
    finally:
        monkeypatch.undo()
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    return {"cheap": refused[:3], "relays": refused[3:]}


async def test_relays_with_standing_are_forgiven_beside_ids_on_the_floor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    got = await rounds(True, monkeypatch)
    assert max(got["relays"]) <= STALLED, got  # (stand89~: 22-23 of 30 each)
    assert got["cheap"] == [0, 0, 0], got


async def test_relays_without_standing_are_judged_by_the_charges_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No trade credited: review86b's grief stands (the charges alone cannot take it,
    tests/test_alike86_scale.py); the relays pay their intake, so are refused."""
    got = await rounds(False, monkeypatch)
    assert min(got["relays"]) > STALLED, got


@pytest.mark.parametrize(
    ("traded_ago", "standing"),
    [(None, False), (0.0, True), (TRADED_SECONDS - 10.0, True), (TRADED_SECONDS + 10.0, False)],
)
def test_standing_is_kept_across_a_restart_for_its_hour(
    traded_ago: float | None, standing: bool
) -> None:
    """A peer credited a trade ``traded_ago`` seconds before a stop (simulated clock): the
    next run's table, from the rows kept (``Peers.kept``, ``restore``: what
    ``sdex.storestandings`` writes and reads), holds its standing once it is admitted again,
    for what is left of ``TRADED_SECONDS`` (the node's time down not counted)."""
    clock, honest = Clock(), "0x" + "aa" * 20
    before = Peers("0x" + "01" * 32, "http://127.0.0.1:1", clock=clock)
    assert before.admit(honest, "http://127.0.0.1:2") is not None
    before.standing(honest).earn(clock.now)  # (a row is kept for a peer that delivered)
    if traded_ago is not None:
        assert before.traded(honest, 7)
    clock.now += 0.0 if traded_ago is None else traded_ago
    rows = before.kept(256)
    clock.now += 5_000.0  # (down)
    after = Peers("0x" + "01" * 32, "http://127.0.0.1:1", clock=clock)
    after.restore(rows)
    assert not after.has_traded(honest)  # (not admitted yet)
    assert after.admit(honest, "http://127.0.0.1:2") is not None
    assert after.has_traded(honest) is standing
    clock.now += TRADED_SECONDS + 1.0  # (its hour lapses, restart or not)
    assert not after.has_traded(honest)
