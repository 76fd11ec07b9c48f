"""gate36: the ``/p2p/`` budget of refusals counts an IPv6 client's /56 and /48 too.

A ``/p2p/`` request refused before its sender was proved costs the node a header parse and
often an ECDSA recovery; each client address has a budget of them (``sdex.gossip.refusals``).
It was keyed by ``client_group`` alone, an IPv6 client by its /64: one /48 (65,536 /64s, a
few dollars a month; RFC 6177) had 65,536 budgets of 64 refusals each (before the fix: every
one of 15 refused requests from 15 /64s of one /48 was answered 401, none gated; the map's
own API let a fresh /64 of a spent /48 in). Now each wider network holds
``WIDER_CLIENTS`` addresses' budget in all, as the request budget does
(``sdex.httpkit.NetworkLimiter``).

The first test drives the refusal map's own API (no IPv6 needed); the second a real node on
loopback, its clients named by ``X-Forwarded-For`` from a trusted proxy (127.0.0.1), so it
needs no IPv6 loopback either."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from sdex.gossip.refusals import RefusalGate
from sdex.httpkit import RateLimit, client_group, parse_network
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_p2p27_refusals import junk_headers

BURST = 3
WIDER = 4
"""``sdex.httpkit.WIDER_CLIENTS`` (named here: the test states the bound it expects)."""
SLOW = RateLimit(rate=0.001, burst=BURST)
"""A budget that does not refill while a test runs."""


def _spend(gate: RefusalGate, address: str, times: int = BURST) -> None:
    client = client_group(address)
    for _ in range(times):
        assert gate.open(client)
        gate.charge(client)


def test_a_48s_64s_share_one_budget_of_refusals() -> None:
    gate = RefusalGate(SLOW)
    room = WIDER * BURST  # what the /48 (and each /56 in it) holds in all
    for n in range(WIDER):  # (each /64 its own burst, all in one /56 of one /48)
        _spend(gate, f"2001:db8:7:{n:x}::1")
    fresh = client_group(f"2001:db8:7:{WIDER:x}::1")
    assert not gate.open(fresh)  # (a /64 never refused: its /56 and /48 are spent)
    assert not gate.open(client_group("2001:db8:7:100::1"))  # (another /56: the /48)
    assert int(gate.retry_after(fresh)) >= 1
    # another /48, and an IPv4 client, keep their own budgets
    assert gate.open(client_group("2001:db8:8::1"))
    assert gate.open(client_group("192.0.2.1"))
    _spend(gate, "192.0.2.1")
    assert not gate.open(client_group("192.0.2.1"))
    assert gate.gated == 3 and gate.refused == room + BURST


def test_one_64_alone_still_has_its_own_budget() -> None:
    gate = RefusalGate(SLOW)
    _spend(gate, "2001:db8:9::1")
    assert not gate.open(client_group("2001:db8:9::2"))  # (the same /64)
    assert gate.open(client_group("2001:db8:9:1::1"))  # (its /48 holds WIDER - 1 more)


async def test_a_node_gates_a_48s_many_64s(chain: Chain, tmp_path: Path) -> None:
    cfg = node_config(chain, tmp_path / "n.db", trusted_proxies=(parse_network("127.0.0.1"),))
    room = WIDER * BURST
    async with running_node(cfg) as (node, api), aiohttp.ClientSession() as session:
        assert node.gossip is not None
        node.gossip.refusals = gate = RefusalGate(SLOW)

        async def junk(client: str) -> int:  # (refused from its headers alone: v 5)
            headers = junk_headers("127.0.0.1", v=5) | {"X-Forwarded-For": client}
            async with session.get(api.base + "/p2p/digest", headers=headers) as r:
                await r.read()
                return r.status

        codes = [await junk(f"2001:db8:7:{n:x}::1") for n in range(room + 3)]
        assert codes == [401] * room + [429] * 3, codes
        assert await junk("2001:db8:7:100::1") == 429  # (another /56 of the spent /48)
        assert await junk("2001:db8:8::1") == 401  # (another /48)
        assert await junk("192.0.2.1") == 401  # (an IPv4 client)
        assert gate.gated == 4 and gate.refused == room + 2
        health = (await api.get("/health"))[1]
        assert health["gossip"]["refusals"]["gated"] == 4, health["gossip"]


def test_a_spent_48_is_heard_again_once_refilled() -> None:
    """``open`` looks at an IPv6 client's wider networks only while one is spent; one that
    refilled is heard again, and no longer looked at."""
    gate = RefusalGate(SLOW)
    for n in range(WIDER):
        _spend(gate, f"2001:db8:7:{n:x}::1")
    fresh = client_group(f"2001:db8:7:{WIDER:x}::1")
    assert not gate.open(fresh) and gate._spent
    past = time.monotonic() - 2 * WIDER * BURST / gate.wider_rate  # (as if long idle)
    gate._wider = {group: (0.0, past) for group in gate._wider}
    assert gate.open(fresh) and not gate._spent
