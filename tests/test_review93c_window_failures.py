"""review93c: the notices of one window that fail together are one failure of their peer.

gossip93 put ``notice_window`` (8) notices in flight to a peer at once. When the link fails,
or the peer fails their writes, they fail together, and each answer counted a failure of the
peer (``Peers.verified``): 8 at once, past ``EVICT_FAILURES`` (5), which meant to count
failures in a row, each after the backoff the last one set. A peer not answered for
``EVICT_SECONDS`` (a quiet link: no order pushed to it, anti-entropy with others) was then
evicted at the next tick over one failed burst, its box cleared (the cancels in it never
pushed: anti-entropy's to repair), and its backoff set as if for 8 failures (10 s, not 0.4).
Before, one notice was in flight and at most ``push_window`` (4) pushes, never both.

Two in-process nodes on loopback (``tests.p2putil``: the real ``Gossip`` driver and its
routes on real aiohttp servers), over a stream and over plain HTTP; eviction shortened to
1 s (``$SDEX_TEST_EVICT_SECONDS``). Node 1 holds a window of cancels past that second, then
fails all of them (a write error: 500), then takes them: node 0 must keep node 1 and its box
and send each again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sdex.gossip import GossipConfig
from tests.nodeutil import wait_for
from tests.p2putil import Member, MemoryNode, Notice, gossip_net

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""
WINDOW = 8


class FailsOnce(MemoryNode):
    """Holds each cancel's answer till ``hold`` is done, which fails them all (500); the
    ones that come after are taken once ``then`` is done."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[str] = []
        self.hold: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.then: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        assert isinstance(notice, dict)
        h = str(notice["orderHash"])
        self.got.append(h)
        body = {"orderHash": h, "status": "kept"}
        return Notice(202, body, stored=self.then if self.hold.done() else self.hold)


def peer_entry(m: Member, key: str) -> dict[str, Any] | None:
    peers: list[dict[str, Any]] = m.gossip.core.stats()["peers"]  # type: ignore[assignment]
    return next((p for p in peers if p["key"] == key), None)


@pytest.mark.parametrize("streams", [True, False], ids=["stream", "http"])
async def test_a_window_failing_at_once_is_one_failure_not_an_eviction(
    streams: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", "1")  # (read by each node's peer table)
    cfg = GossipConfig(dial_interval=0.1, ae_interval=1e6, streams=streams, notice_window=WINDOW)
    async with gossip_net(2, [cfg, cfg], makes=[MemoryNode, FailsOnce]) as (a, b):
        fails = b.node
        assert isinstance(fails, FailsOnce)
        key = b.gossip.node_id
        peer = a.gossip.peers.get(key)
        assert peer is not None
        sent = [f"0xc{i}" for i in range(WINDOW)]
        for h in sent:
            a.gossip.notify("cancels", {"orderHash": h})

        async def window_came() -> bool:
            return len(fails.got) >= WINDOW

        await wait_for(window_came, timeout=BOUND)
        await asyncio.sleep(1.5)  # (no condition: node 1 not answered for its eviction's 1 s)
        fails.hold.set_exception(RuntimeError("disk I/O error"))  # the window fails at once

        async def sent_again() -> bool:  # (after the backoff the failure set; held there)
            return len(fails.got) >= 2 * WINDOW or a.gossip.peers.get(key) is None

        await wait_for(sent_again, timeout=BOUND)
        entry = peer_entry(a, key)
        assert entry is not None and entry["failures"] == 1, entry  # before: 8, or evicted
        fails.then.set_result(None)

        async def delivered() -> bool:
            entry = peer_entry(a, key)
            return entry is None or entry["notices"] == 0

        await wait_for(delivered, timeout=BOUND)
        assert a.gossip.peers.get(key) is peer  # never evicted (before: at the next tick)
        assert sorted(fails.got) == sorted(sent * 2)  # each failed once, then taken
