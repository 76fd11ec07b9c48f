"""chaos74: a seed evicted while it was down is dialled at its hello, not after its backoff.

A peer that keeps failing for 30 s is evicted (``Peers.evict_failing``) and, being one of the
operator's seeds, goes back to the candidates, dialled with a backoff of its own (0.2 s
doubling per failed dial, capped at 10 s +-20%). gossip66 made a hello from an admitted peer
end its call backoff; a peer evicted meanwhile is no longer admitted, so its hello (a restart
dials its seeds first) ended nothing: it was dialled, admitted and its orders pulled only when
the seed's wait was over. Under load a restart takes 14-23 s, long enough to be evicted:
gossip66's restart test (probed by chaos74) saw the order reach node 0 5.5-6 s after node 1
was healthy. Now such a hello ends the seed's wait once until it is admitted again
(``Peers.seed_hello``).

No restart's timing: a cut link stands for the downtime (both nodes evict each other; node 1
keeps node 0 undialled while the link is cut, gossip69) and its restoring for the restart
(node 1 dials node 0 at once). Real Hardhat; real ``sdex node`` processes (``Cluster``), whose
eviction is shortened to ``EVICTED_AFTER`` (``$SDEX_TEST_EVICT_SECONDS``; suite89: the 30 s
were most of the test's time; the subject is what follows an eviction, not its length)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Api, Cluster, wait_for
from tests.test_gossip66_restart_backoff import CAPPED, SHORTEST_WAIT, _holds, _peers, failures
from tests.test_node import ALICE, E6, E18, ask

EVICTED_AFTER = "4"
"""The nodes' eviction (seconds of failures, ``$SDEX_TEST_EVICT_SECONDS``) in place of 30."""


async def seed_failures(api: Api, url: str) -> int:
    """The failed dials in a row of the node of ``api`` to its seed ``url`` while it is not
    in the table (-1: in the table, or not a seed)."""
    code, health = await api.get("/health")
    seeds = health["gossip"].get("seeds", []) if code == 200 else []
    return next((int(s["failures"]) for s in seeds if s["url"] == url), -1)


async def test_an_evicted_seeds_hello_ends_its_dial_backoff(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node 1 cuts its side of the link and takes an order; once each node has evicted the
    other and node 0's dials of its seed node 1 have failed ``CAPPED`` times in a row (its
    next dial at least 8 s away), node 1 restores the link and dials node 0 at once. Node 0
    then dials node 1 back and pulls the order well before that wait would have ended
    (before: not until it was over)."""
    c = chain
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", EVICTED_AFTER)  # (read by the nodes' start)
    async with Cluster(c, tmp_path, [[1], [0]], GOSSIP_SCALE) as net:
        a, b = net.api(0), net.api(1)
        await wait_for(lambda: _peers(a, net.urls[1]), timeout=60)
        await wait_for(lambda: _peers(b, net.urls[0]), timeout=60)
        code, body = await b.post("/admin/links", {"block": [net.urls[0]]})
        assert code == 200, body
        kept = c.sign(ask(c, ALICE, E18, 3100 * E6))
        assert (await b.post_order(kept))[0] == 201  # queued for no one
        # (EVICTED_AFTER s of failures each way, evicted: node 0's seed is dialled, node 1's not)
        await wait_for(lambda: _evicted(b, net.urls[0]), timeout=120)
        seen = [await seed_failures(a, net.urls[1])]

        async def failed_anew() -> bool:
            n = await seed_failures(a, net.urls[1])
            new, seen[0] = n > seen[0], n
            return new and n >= CAPPED

        await wait_for(failed_anew, timeout=120)  # (~12 s of dials after its eviction)
        failed_at = time.monotonic()
        code, body = await b.post("/admin/links", {"unblock": [net.urls[0]]})
        assert code == 200, body
        await wait_for(
            lambda: _holds(a, kept), timeout=failed_at + SHORTEST_WAIT - 0.5 - time.monotonic()
        )
        await wait_for(lambda: _peers(a, net.urls[1]), timeout=10)  # admitted again
        assert await seed_failures(a, net.urls[1]) == -1


async def _evicted(api: Api, url: str) -> bool:
    return await failures(api, url) == -1
