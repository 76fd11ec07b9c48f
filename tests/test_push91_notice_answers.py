"""push91: a peer's answers to the notices pushed to it are told apart.

Two in-process nodes on loopback (``tests.p2putil``: the real ``Gossip`` driver and its
routes on real aiohttp servers), over a stream and over plain HTTP. Node 1's intake refuses
some cancel notices as the node's kept-cancel limits do (404 "order not found") and, for
others, fails to store them a few times (the real route's 503 "not stored"). Node 0 must drop
a refused notice (counted, not sent again, no failure of node 1's: no eviction), deliver every
later notice behind it, deliver one answered 503 by sending it again alone (anti-entropy
carries no cancels here), and say when a full box drops new notices (``outbox_max``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from sdex.gossip import GossipConfig
from sdex.gossip.peers import EVICT_FAILURES
from sdex.sqlwriter import StoreError
from tests.nodeutil import wait_for
from tests.p2putil import MemoryNode, Notice, notice_pair, peer_entry

BOUND = 60.0
"""Seconds a notice has to arrive (generous: a loaded machine, CI's 2 cores)."""


class Picky(MemoryNode):
    """Refuses a notice with ``refuse`` (404, signed by the route); fails to store one with
    ``fail`` that many times (503 "not stored"); takes the rest (``got``, in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[str] = []
        self.asked: dict[str, int] = {}
        self.hold: asyncio.Future[None] | None = None

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        assert isinstance(notice, dict)
        h = str(notice["orderHash"])
        self.asked[h] = self.asked.get(h, 0) + 1
        if notice.get("refuse"):
            return Notice(404, {"reason": "order not found"})
        body = {"orderHash": h, "status": "kept"}
        if self.asked[h] <= int(notice.get("fail", 0)):
            failed = asyncio.get_running_loop().create_future()
            failed.set_exception(StoreError("database is locked"))
            return Notice(202, body, stored=failed)
        self.got.append(h)
        return Notice(202, body, stored=self.hold)


def config(streams: bool, **more: Any) -> GossipConfig:
    more = {"notice_window": 1, **more}  # (one in flight, as the rules here read; gossip93)
    return GossipConfig(dial_interval=0.1, ae_interval=1e6, streams=streams, **more)


@pytest.mark.parametrize("streams", [True, False], ids=["stream", "http"])
async def test_a_refused_notice_is_dropped_and_blocks_no_later_one(streams: bool) -> None:
    async with notice_pair(config(streams), Picky) as (a, b, picky):
        refused = EVICT_FAILURES + 1  # (each counted a failure, node 1 would be evicted)
        want = []
        for i in range(refused):
            a.gossip.notify("cancels", {"orderHash": f"0xr{i}", "refuse": True})
            want.append(f"0xok{i}")
            a.gossip.notify("cancels", {"orderHash": want[-1]})

        async def all_came() -> bool:  # (and answered: the last one's answer on its way)
            return picky.got == want and peer_entry(a, b.gossip.node_id)["notices"] == 0

        await wait_for(all_came, timeout=BOUND)
        entry = peer_entry(a, b.gossip.node_id)
        assert entry["failures"] == 0 and a.gossip.peers.get(b.gossip.node_id) is not None
        assert (entry["noticesRefused"], entry["notices"]) == (refused, 0)
        assert all(picky.asked[f"0xr{i}"] == 1 for i in range(refused))  # (never again)
        assert a.gossip.core.stats()["noticesRefused"] == refused


@pytest.mark.parametrize("streams", [True, False], ids=["stream", "http"])
async def test_a_cancel_answered_503_not_stored_is_delivered_by_its_resend(
    streams: bool,
) -> None:
    async with notice_pair(config(streams), Picky) as (a, b, picky):
        a.gossip.notify("cancels", {"orderHash": "0xc1", "fail": 3})
        a.gossip.notify("cancels", {"orderHash": "0xc2"})

        async def came() -> bool:
            return picky.got == ["0xc1", "0xc2"]

        await wait_for(came, timeout=BOUND)
        assert picky.asked["0xc1"] == 4  # three 503s, then stored
        assert a.gossip.peers.get(b.gossip.node_id) is not None


async def test_a_full_box_says_it_drops_new_notices(caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(True, outbox_max=2)
    async with notice_pair(cfg, Picky) as (a, b, picky):
        picky.hold = asyncio.get_running_loop().create_future()  # (stored when released)
        caplog.set_level(logging.INFO, "sdex.gossip")
        for i in range(5):  # one in flight, held; one waits; the next three find it full
            a.gossip.notify("cancels", {"orderHash": f"0x{i}"})
        full = [r for r in caplog.records if "outbox_max" in r.getMessage()]
        assert len(full) == 1 and full[0].levelno == logging.WARNING
        assert peer_entry(a, b.gossip.node_id)["noticesDropped"] == 3
        assert a.gossip.core.stats()["noticesDropped"] == 3
        picky.hold.set_result(None)

        async def drained() -> bool:
            return peer_entry(a, b.gossip.node_id)["notices"] == 0

        await wait_for(drained, timeout=BOUND)
        a.gossip.notify("cancels", {"orderHash": "0x9"})

        async def came() -> bool:
            return picky.got == ["0x0", "0x1", "0x9"]

        await wait_for(came, timeout=BOUND)
        said = [r.getMessage() for r in caplog.records if "notices for peer" in r.getMessage()]
        assert len(said) == 2 and "takes notices again" in said[1]
