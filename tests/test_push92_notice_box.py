"""push92: a peer's box of notices keeps cancels over settlement notices, and no two alike.

Two in-process nodes on loopback (``tests.p2putil``: the real ``Gossip`` driver and its
routes on real aiohttp servers), over a stream and over plain HTTP. Node 1 holds every notice
it is sent until the test lets it go, so node 0's box for it fills. A cancel dropped is lost
to node 1 but for anti-entropy (off here); a settlement notice only spares it a wait for its
own chain watcher: a full box must take a cancel in the place of its oldest settlement notice
not in flight, drop a cancel only when it holds nothing but cancels, and count what it drops
by kind. The same cancel notified twice (a wallet's, then again when its order came) must sit
in the box once and be sent once."""

from __future__ import annotations

from typing import Any

import pytest

from sdex.gossip import GossipConfig
from sdex.gossip.noticebox import NoticeBox, ident
from tests.nodeutil import wait_for
from tests.p2putil import Holding, Notice, notice_pair, peer_entry

BOUND = 60.0
"""Seconds the notices have to arrive (generous: a loaded machine, CI's 2 cores)."""


class Held(Holding):
    """Takes every notice, in order (``got``), each answered once ``hold`` is done."""

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        assert isinstance(notice, dict)
        self.got.append(str(notice["orderHash"]))
        return Notice(202, {"orderHash": notice["orderHash"], "status": "kept"}, stored=self.hold)

    async def settlement_notice(self, tx_hash: str) -> bool:
        self.got.append(tx_hash)
        await self.hold
        return True


def tx(i: int) -> str:
    return "0x" + f"{i:x}".rjust(64, "0")


def config(streams: bool, **more: Any) -> GossipConfig:
    more = {"notice_window": 1, **more}  # (one in flight, as the rules here read; gossip93)
    return GossipConfig(dial_interval=0.1, ae_interval=1e6, streams=streams, **more)


async def sent(held: Held, n: int) -> None:
    async def came() -> bool:
        return len(held.got) >= n

    await wait_for(came, timeout=BOUND)


@pytest.mark.parametrize("streams", [True, False], ids=["stream", "http"])
async def test_a_full_box_drops_settlement_notices_for_cancels(streams: bool) -> None:
    cfg = config(streams, outbox_max=3)
    async with notice_pair(cfg, Held) as (a, b, held):
        a.gossip.notify("settlements", {"txHash": tx(0)})
        await sent(held, 1)  # (in flight, held: never dropped for room)
        a.gossip.notify("settlements", {"txHash": tx(1)})
        a.gossip.notify("settlements", {"txHash": tx(2)})  # the box is full
        for i in range(3):  # the first two take tx 1's and tx 2's places; the third finds
            a.gossip.notify("cancels", {"orderHash": f"0xc{i}"})  # nothing but cancels
        a.gossip.notify("settlements", {"txHash": tx(3)})  # (full: dropped)
        assert peer_entry(a, b.gossip.node_id)["notices"] == 3
        held.hold.set_result(None)

        async def drained() -> bool:
            return peer_entry(a, b.gossip.node_id)["notices"] == 0

        await wait_for(drained, timeout=BOUND)
        assert held.got == [tx(0), "0xc0", "0xc1"]
        entry, dropped = peer_entry(a, b.gossip.node_id), {"settlements": 3, "cancels": 1}
        assert (entry["noticesDropped"], entry["noticesDroppedBy"]) == (4, dropped)
        stats = a.gossip.core.stats()
        assert (stats["noticesDropped"], stats["noticesDroppedBy"]) == (4, dropped)


@pytest.mark.parametrize("streams", [True, False], ids=["stream", "http"])
async def test_the_same_cancel_twice_waits_and_goes_once(streams: bool) -> None:
    async with notice_pair(config(streams), Held) as (a, b, held):
        first = {"orderHash": "0xc0", "signature": "0x" + "11" * 65}
        a.gossip.notify("cancels", first)
        await sent(held, 1)  # (in flight, held)
        a.gossip.notify("cancels", dict(first))  # again while the first is in flight
        for _ in range(2):  # a wallet's, then again when its order came
            a.gossip.notify("cancels", {"orderHash": "0xc1", "signature": "0x" + "22" * 65})
        a.gossip.notify("settlements", {"txHash": tx(1)})
        a.gossip.notify("settlements", {"txHash": tx(1)})
        assert peer_entry(a, b.gossip.node_id)["notices"] == 3
        held.hold.set_result(None)

        async def drained() -> bool:
            return peer_entry(a, b.gossip.node_id)["notices"] == 0

        await wait_for(drained, timeout=BOUND)
        assert held.got == ["0xc0", "0xc1", tx(1)]
        entry = peer_entry(a, b.gossip.node_id)
        assert (entry["noticesDropped"], entry["noticesDroppedBy"]) == (0, {})


def test_the_box_keeps_its_settlement_count_in_step() -> None:
    """Every way a notice leaves (taken, refused, room for a cancel, cleared) keeps the
    count the drop rule reads, so a box of nothing but cancels is told without a scan."""
    box, most = NoticeBox(), 3
    s = [{"txHash": tx(i)} for i in range(3)]
    for n in s:
        box.put("settlements", n, ident("settlements", n), most)
    assert box.send() == ("settlements", s[0])
    box.answered(s[0], True)  # taken
    assert (len(box), box.settlements) == (2, 2)
    c = {"orderHash": "0xc0"}
    box.put("cancels", c, ident("cancels", c), 2)  # full at 2: s[1] makes room
    assert (len(box), box.settlements, box.dropped) == (2, 1, {"settlements": 1})
    box.send()
    box.answered(s[2], True)  # refused for good
    assert (len(box), box.settlements) == (1, 0)
    assert box.put("cancels", c, ident("cancels", c), 2) is None and len(box) == 1  # (alike)
    box.clear()
    assert (len(box), box.settlements) == (0, 0)
    box.put("cancels", c, ident("cancels", c), 2)  # (cleared: it may come again)
    assert len(box) == 1
