"""Honest relays of a saturated node are not put in debt for their pushes' intake (peers81,
``sdex.gossip.alike``): a push's intake charge is forgiven while its pusher's recent charges
are within ``ALIKE`` times the median of at least ``LEAST_OTHERS`` other pushers'. Before,
the intake's wall time put each of them in debt like a flooder (flood80: honest peers'
orders rejected unchecked and requests refused at 300 and 500 orders a second across 8
nodes), whatever the others did.

A real gossip driver on loopback whose intake takes ``DEAR`` seconds of the loop thread's
CPU an order; admitted peers push batches of new orders over signed HTTP, in rounds. The
budget's clock stands still (no refill): its ``BURST`` tokens buy ``BUDGET`` seconds of the
loop, fewer than ``ROUNDS`` batches' intake. Four honest peers pushing alike are all served
to the end; among four honest ones, a peer pushing ``FLOOD`` times as much is refused
(gossip78's lone flooder, with one other pusher, is refused as before:
``tests/test_gossip78_push_costs.py``)."""

from __future__ import annotations

import functools
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from sdex import httpkit
from sdex.gossip import GossipConfig, NodeKey, metered
from sdex.gossip.alike import ALIKE, LEAST_OTHERS, Pushers
from sdex.gossip.client import PeerClient
from sdex.gossip.gate import PEER_LIMITER_KEY
from sdex.gossip.metered import INTAKE_SHARE, Crowding
from sdex.httpkit import RateLimit
from tests import p2putil
from tests.p2putil import Member, order, serve_gossip

RATE = 400.0
BUDGET = 0.6
"""Seconds of the loop a peer's whole budget buys (``BURST * INTAKE_SHARE / RATE``)."""
BURST = int(BUDGET * RATE / INTAKE_SHARE)
DEAR = 0.005
"""Seconds of the loop thread's CPU each new order's intake takes."""
BATCH = 2
ROUNDS = 60
"""Rounds of one push each: ``ROUNDS * BATCH * DEAR`` (0.6 s, and the pushes' own
handling) is past ``BUDGET``."""
FLOOD = 6
"""The flooder's pushes a round."""
STALLED = ROUNDS // 10
"""Honest pushes a loaded machine may see refused: a stall (another process on the core)
charged to one pusher at up to ``MOST_SECONDS`` an order puts it past the others' median
for a few rounds (0 on a quiet machine)."""


class Dear(p2putil.Dear):
    """A node whose intake takes ``DEAR`` seconds of the loop's CPU an order."""

    dear = DEAR


async def push(client: PeerClient, member: Member, first: int) -> int | None:
    """One push of ``BATCH`` new orders: how many were accepted, None if refused (429)."""
    body = {"orders": [order(first + i) for i in range(BATCH)]}
    got = await client.call("POST", member.url, "/p2p/orders", body, to=member.gossip.node_id)
    if got.status == 429:
        return None
    assert got.status == 200, got.body
    assert isinstance(got.body, dict)
    return int(got.body["accepted"])


async def rounds(honest: int, flooder: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``ROUNDS`` rounds: each honest peer pushes one batch, the flooder (if any) ``FLOOD``.
    Each one's accepted orders and refused pushes, and what its budget paid."""
    # (no dials: the peers' URLs answer nothing, and a loaded machine's run past
    # ``EVICT_SECONDS`` evicted the pushers at the next dial: strangers, refused 429)
    cfg = GossipConfig(ae_interval=1e6, dial_interval=1e6)
    member = await serve_gossip(cfg, [], make=Dear, limit=RateLimit(rate=RATE, burst=BURST))
    await member.gossip.start()
    keys = [NodeKey.generate() for _ in range(honest + flooder)]
    for i, key in enumerate(keys):
        assert member.gossip.peers.admit(key.node_id, f"http://127.0.0.1:{10 + i}") is not None
    intake_paid = member.gossip.intake_paid  # (the /p2p/ sub-application's)
    assert isinstance(intake_paid, functools.partial)
    limiter = intake_paid.args[0][PEER_LIMITER_KEY]
    monkeypatch.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
    # the loop's time, the pushers' clock: the loop thread's CPU, the core never crowded (a
    # loaded machine's stalls and waits for a core charged to no pusher: at load ~19 one
    # stall's wall time put an honest pusher in debt for good, the budget not refilled, and
    # ``Crowding``'s factor, up to 20, priced every push's handling past the budget)
    costs = member.gossip.peer_costs
    monkeypatch.setattr(metered, "clock", time.thread_time)
    costs.pushers.clock = time.thread_time
    monkeypatch.setattr(costs, "crowding", Crowding(path="/nonexistent/schedstat"))
    accepted, refused = [0] * len(keys), [0] * len(keys)
    try:
        async with aiohttp.ClientSession() as session:
            clients = [
                PeerClient(session, key, f"http://127.0.0.1:{10 + i}") for i, key in enumerate(keys)
            ]
            n = 0
            for _ in range(ROUNDS):
                for i, client in enumerate(clients):
                    for _ in range(FLOOD if i == honest else 1):
                        n += 1
                        got = await push(client, member, 1_000 * n)
                        if got is None:
                            refused[i] += 1
                        else:
                            accepted[i] += got
        paid = [BURST - limiter.left(key.node_id) for key in keys]
    finally:
        monkeypatch.undo()
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    intake = member.gossip.peer_costs.to_json()["intake"]
    assert isinstance(intake, dict)
    return {"accepted": accepted, "refused": refused, "paid": paid, "intake": intake}


async def test_honest_relays_pushing_alike_are_not_put_in_debt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four peers, one batch each a round: every push served, every order accepted (before:
    each in debt after ~2/3 of the rounds, the rest refused): their budgets paid for a small
    part of the intake (the first round's, before three others pushed), the rest forgiven."""
    got = await rounds(4, False, monkeypatch)
    assert max(got["refused"]) <= STALLED, got  # (before: 37-44 each)
    served = [(ROUNDS - r) * BATCH for r in got["refused"]]
    assert got["accepted"] == served, got  # (each push served accepted in full)
    assert got["intake"]["forgiven"] > got["intake"]["tokens"] / 2, got


async def test_a_flooder_among_honest_relays_is_still_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four honest peers, one batch each a round, and a flooder pushing ``FLOOD``: the
    honest ones are served to the end; the flooder is refused, and its orders accepted are
    at most ``ALIKE`` times an honest peer's and what its budget bought (a batch's
    worth past it: the push into debt)."""
    got = await rounds(4, True, monkeypatch)
    honest = got["refused"][:4]
    assert max(honest) <= ROUNDS // 2, got  # (the fresh clone's whole suite: up to 22 of 60)
    assert got["accepted"][:4] == [(ROUNDS - r) * BATCH for r in honest], got
    assert got["refused"][4] > 0, got
    assert got["refused"][4] / (ROUNDS * FLOOD) > 2 * max(honest) / ROUNDS, got  # (its rate)
    bought = BUDGET / DEAR  # (orders its whole budget buys, at the least price)
    assert got["accepted"][4] <= ALIKE * ROUNDS * BATCH + bought + BATCH, got


@pytest.mark.parametrize(
    ("others", "mine", "forgiven"),
    [
        ([10.0, 10.0, 10.0], 10.0, True),
        ([10.0, 10.0, 10.0], 10.0 * ALIKE, True),  # (at the factor)
        ([10.0, 10.0, 10.0], 10.0 * ALIKE + 1.0, False),  # (past it)
        ([10.0, 10.0], 10.0, False),  # (too few others: ``LEAST_OTHERS``)
        ([1.0, 1.0, 100.0, 100.0], 50.0, False),  # (two near it: ``NEAR``)
        ([1.0, 100.0, 100.0, 100.0], 50.0, True),  # (the median: 100)
        ([0.0, 0.0, 0.0], 1.0, False),  # (others charged nothing)
    ],
)
def test_a_charge_is_forgiven_within_the_factor_of_the_others_lower_median(
    others: list[float], mine: float, forgiven: bool
) -> None:
    assert LEAST_OTHERS == 3
    pushers = Pushers(clock=lambda: 100.0)
    for i, tokens in enumerate(others):
        pushers.forgive(f"other{i}", tokens)
    before = pushers.forgiven
    assert pushers.forgive("me", mine) is forgiven
    assert pushers.forgiven - before == (mine if forgiven else 0.0)


def test_a_pushers_charges_fall_by_half_a_half_life_and_old_ones_do_not_count() -> None:
    from sdex.gossip.alike import ACTIVE, HALF_LIFE

    now = [0.0]
    pushers = Pushers(clock=lambda: now[0])
    for i in range(3):
        pushers.forgive(f"other{i}", 10.0)
    now[0] = HALF_LIFE  # (the others' sums: 5 each)
    assert pushers.forgive("me", 15.0)  # (15 <= 3 x 5)
    assert not pushers.forgive("me", 1.0)  # (16 > 15)
    now[0] = HALF_LIFE + ACTIVE + 0.1  # (the others not charged within ``ACTIVE``)
    assert not pushers.forgive("me", 0.001)
