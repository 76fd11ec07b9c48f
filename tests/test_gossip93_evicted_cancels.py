"""gossip93: an acknowledged cancel reaches a peer whose outbox was cleared when it was
evicted: anti-entropy and a restart's pull carry it, so the cancels need not outlive the box.

A peer that fails for ``EVICT_SECONDS`` leaves the table and its outbox goes with it
(``GossipCore._forget``), cancels too. Node 1 holds Alice's ask open; it is cut off (a
partition: both sides' links cut) or killed (a restart) while a wallet cancels the ask at
node 0, whose box for node 1 then holds the cancel; node 0 evicts node 1 (its box gone).
Once the link is back, or node 1 restarted, node 1 must hold the ask ``cancelled`` within
a bound, with no box left at node 0 to push it: its anti-entropy round asks node 0 why
the ask it holds open is not open there (``/p2p/fetch``'s ``why``: the maker's cancel comes
back), and a restart also asks its seed's soft cancels (``/p2p/cancelled``).

Real Hardhat; real ``sdex node`` processes (``Cluster``), eviction shortened to
``EVICTED_AFTER`` seconds (``$SDEX_TEST_EVICT_SECONDS``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Cluster, wait_for
from tests.test_attack38_soft_cancel_sync import cancel_at, status_at
from tests.test_gossip66_restart_backoff import _peers, failures
from tests.test_node import ALICE, E6, E18, ask

EVICTED_AFTER = "4"
"""The nodes' eviction (seconds of failures) in place of 30."""
BOUND = 90.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""


@pytest.mark.parametrize("down", ["cut", "killed"])
async def test_a_cancel_in_an_evicted_peers_box_reaches_it_anyway(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, down: str
) -> None:
    c = chain
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", EVICTED_AFTER)  # (read by the nodes' start)
    async with Cluster(c, tmp_path, [[1], [0]], GOSSIP_SCALE) as net:
        a, b = net.api(0), net.api(1)
        await wait_for(lambda: _peers(a, net.urls[1]), timeout=BOUND)
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await a.post_taken(withdrawn))[0] == 201

        async def open_at_1() -> bool:
            return await status_at(b, withdrawn) == "open"

        await wait_for(open_at_1, timeout=BOUND)
        if down == "cut":
            await net.cut([0], [1])
        else:
            net.kill(1)
        await cancel_at(a, c, withdrawn, ALICE)  # (queued for node 1, which cannot take it)

        async def evicted() -> bool:  # (node 1 out of node 0's table: its box gone)
            return await failures(a, net.urls[1]) == -1

        await wait_for(evicted, timeout=BOUND)
        if down == "cut":
            await net.cut([0], [1], heal=True)
        else:
            net.spawn(1)
            await net.wait_healthy(1)

        async def cancelled_at_1() -> bool:
            return await status_at(b, withdrawn) == "cancelled"

        await wait_for(cancelled_at_1, timeout=BOUND)
