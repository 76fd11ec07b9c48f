"""A real node with no core to spare (perf38, issue 11): a peer's chunk has its signatures
recovered on the event loop, not handed to the ECDSA thread; a forged order in the chunk is
refused alone and the good ones are accepted; ``/health`` counts the orders recovered so
(``crowded``), the thread's hand-overs and the store writer's."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from sdex.ingest.cores import SpareCore
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import CAROL, E6, E18, ask


def _core(spare: bool) -> SpareCore:
    """A verdict fixed from its second reading on (waited 0 or 3x what the thread ran)."""
    readings = itertools.chain(
        [(0, 0)], ((k * 1000, 0 if spare else k * 3000) for k in itertools.count(1))
    )
    core = SpareCore(read=lambda: next(readings), clock=lambda: 0.0, interval=0.0)
    core.spare()
    return core


async def test_a_crowded_nodes_peer_chunk_is_recovered_on_the_loop_keeping_each_verdict(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        ecdsa = node.peer_intake.ecdsa
        ecdsa.spare_core = _core(spare=False)
        _, before = await api.get("/health")
        good = [c.sign(ask(c, CAROL, E18 // 100, (700 + i) * E6)) for i in range(8)]
        forged = dataclasses.replace(good[0], order=good[1].order)  # another order's signature
        chunk = [*good[:4], forged, *good[4:]]
        got = await node.submit_many_from_peer([s.to_json() for s in chunk], "ab" * 32)
        assert got[:4] + got[5:] == ["accepted"] * 8
        assert got[4] != "accepted"
        _, after = await api.get("/health")
        sig0, sig1 = before["chainMirror"]["signatures"], after["chainMirror"]["signatures"]
        assert sig1["crowded"] - sig0["crowded"] == 9  # all nine recovered on the loop
        assert sig1["handovers"] == sig0["handovers"]  # none handed to the thread
        assert after["store"]["handovers"] >= before["store"]["handovers"]
        # a core spare again: the next chunk goes to the thread in one hand-over
        ecdsa.spare_core = _core(spare=True)
        more = [c.sign(ask(c, CAROL, E18 // 100, (800 + i) * E6)) for i in range(8)]
        got = await node.submit_many_from_peer([s.to_json() for s in more], "ab" * 32)
        assert got == ["accepted"] * 8
        _, last = await api.get("/health")
        sig2 = last["chainMirror"]["signatures"]
        assert (sig2["handovers"] - sig1["handovers"], sig2["crowded"]) == (1, sig1["crowded"])

        async def stored() -> bool:  # the peer's rows reach the writer lazily, together
            _, h = await api.get("/health")
            return bool(h["store"]["handovers"] > before["store"]["handovers"])

        await wait_for(stored)
