"""A seed whose link the operator cut (``/admin/links``) is dialled again once the link is
restored (gossip69). Before, ``GossipCore.tick`` took the seed from the candidate list,
skipped it for the cut, and dropped it: once the cut outlasted the eviction
(``EVICT_SECONDS``, 30 s) the seed was never dialled again unless it said hello first, and
a node that had only that seed stayed cut off for good after the link was restored."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sdex.gossip.actions import Call, Evicted
from sdex.gossip.core import GossipCore
from sdex.gossip.peers import EVICT_FAILURES, EVICT_SECONDS
from tests.conftest import Chain
from tests.nodeutil import Cluster, wait_for
from tests.p2putil import Book
from tests.test_gossip_core import ME, Clock, ok, only, peer_id, url


def hellos_to(actions: list[object], where: str) -> list[Call]:
    return [a for a in actions if isinstance(a, Call) and a.kind == "hello" and a.url == where]


def test_a_seed_cut_past_its_eviction_is_dialled_once_restored() -> None:
    clock = Clock()
    core = GossipCore(peer_id(0), ME, [url(1)], Book(), clock=clock, rng=random.Random(1))
    core.next_px = float("inf")
    ok(core, only(core.start(), "hello"), {"nodeId": peer_id(1)}, signer=peer_id(1))
    peer = core.peers.get(peer_id(1))
    assert peer is not None
    core.links_blocked.add(url(1))  # the operator cuts the link
    for _ in range(EVICT_FAILURES):
        core.peers.failed(peer)  # (each call to it fails meanwhile)
    clock.t += EVICT_SECONDS + 1
    evicted = [a for a in core.tick() if isinstance(a, Evicted)]
    assert [e.peer for e in evicted] == [peer_id(1)]
    for _ in range(20):  # the cut lasts: no hello goes to it
        clock.t = max(clock.t, core.next_timer())
        assert not hellos_to(core.tick(), url(1))
    core.links_blocked.discard(url(1))  # restored
    dialled: list[Call] = []
    for _ in range(5):
        clock.t = max(clock.t, core.next_timer())
        dialled += hellos_to(core.tick(), url(1))
    assert len(dialled) == 1


async def test_a_restored_link_reconnects_two_node_processes_after_a_long_cut(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ``sdex node`` processes, node 1 seeded with node 0 only (node 0 knows node 1 from
    its hello). The operator cuts the link on both, longer than the eviction: each evicts
    the other. Restored, node 1 dials its seed again and both have each other as peers.
    The eviction is shortened to 4 s (``$SDEX_TEST_EVICT_SECONDS``, suite89: the 30 s were
    most of the test's time; its subject is the seed dialled after an eviction)."""
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", "4")  # (read by the nodes' start)
    async with Cluster(chain, tmp_path, [[], [0]], gossip_scale=0.1) as cl:
        keys = [cl.node_key(i).node_id for i in range(2)]

        async def peer_ids(i: int) -> set[str]:
            code, health = await cl.api(i).get("/health")
            assert code == 200, health
            return {p["key"] for p in health["gossip"]["peers"]}

        async def linked() -> bool:
            return keys[1] in await peer_ids(0) and keys[0] in await peer_ids(1)

        async def apart() -> bool:
            return not await peer_ids(0) and not await peer_ids(1)

        await wait_for(linked, timeout=60)
        await cl.cut([0], [1])
        await wait_for(apart, timeout=EVICT_SECONDS + 60)
        await cl.cut([0], [1], heal=True)
        await wait_for(linked, timeout=60)
