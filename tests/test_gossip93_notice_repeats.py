"""gossip93: a notice identical to one a peer answered lately is not sent to it again.

Two in-process nodes on loopback (``tests.p2putil``: the real ``Gossip`` driver and its
routes on real aiohttp servers), over a stream and over plain HTTP. Node 0 notifies a cancel
and a settlement, waits till node 1 has answered both, then notifies the very same two again
(a repeat: the box had forgotten them once answered, and sent each again, a round trip and
the peer's store write each time), then a new cancel. Node 1 must get each once, in order;
the repeats counted by kind (``noticesRepeatedBy``, ``/metrics``'
``sdex_gossip_notices_repeated_total{kind}``). A box remembers ``DELIVERED`` answered notices
at most: one answered longer ago than that is sent again (bounded memory)."""

from __future__ import annotations

import pytest

from sdex.gossip import GossipConfig
from sdex.gossip.noticebox import DELIVERED, NoticeBox, ident
from tests.nodeutil import wait_for
from tests.p2putil import MemoryNode, Notice, notice_pair, peer_entry

BOUND = 60.0
"""Seconds the notices have to arrive (generous: a loaded machine, CI's 2 cores)."""


class Taker(MemoryNode):
    """Takes every notice, in order (``got``)."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[str] = []

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        assert isinstance(notice, dict)
        self.got.append(str(notice["orderHash"]))
        return Notice(200, {"orderHash": notice["orderHash"], "status": "cancelled"})

    async def settlement_notice(self, tx_hash: str) -> bool:
        self.got.append(tx_hash)
        return True


def config(streams: bool) -> GossipConfig:
    return GossipConfig(dial_interval=0.1, ae_interval=1e6, streams=streams)


TX = "0x" + "ab" * 32


@pytest.mark.parametrize("streams", [True, False], ids=["stream", "http"])
async def test_a_notice_answered_already_is_not_sent_again(streams: bool) -> None:
    async with notice_pair(config(streams), Taker) as (a, b, taker):
        cancel = {"orderHash": "0xc0", "signature": "0x" + "11" * 65}

        async def answered(n: int) -> bool:
            return len(taker.got) >= n and peer_entry(a, b.gossip.node_id)["notices"] == 0

        a.gossip.notify("cancels", cancel)
        a.gossip.notify("settlements", {"txHash": TX})
        await wait_for(lambda: answered(2), timeout=BOUND)
        a.gossip.notify("cancels", dict(cancel))  # the same, answered already
        a.gossip.notify("settlements", {"txHash": TX})
        a.gossip.notify("cancels", {"orderHash": "0xc1", "signature": "0x" + "22" * 65})
        await wait_for(lambda: answered(3), timeout=BOUND)
        assert taker.got == ["0xc0", TX, "0xc1"]
        repeated = {"cancels": 1, "settlements": 1}
        assert peer_entry(a, b.gossip.node_id)["noticesRepeatedBy"] == repeated
        assert a.gossip.core.stats()["noticesRepeatedBy"] == repeated


def test_the_box_remembers_a_bounded_number_of_answered_notices() -> None:
    box, most = NoticeBox(), DELIVERED + 10
    notices = [{"txHash": f"0x{i:064x}"} for i in range(DELIVERED + 1)]
    for n in notices:
        box.put("settlements", n, ident("settlements", n), most)
        box.send()
        box.answered(n, True)
    first, last = (ident("settlements", n) for n in (notices[0], notices[-1]))
    assert box.repeat("settlements", last) and box.repeat("bogus", last)
    assert not box.repeat("settlements", first)  # (the oldest forgotten: sent again)
    assert box.repeated == {"settlements": 1, "other": 1}  # (labels bounded: KINDS, "other")
    c = {"orderHash": "0xc0"}
    box.put("cancels", c, ident("cancels", c), most)
    box.send()
    box.answered(c, False)  # (not taken: waits to be sent again, not remembered as answered)
    assert box.send() == ("cancels", c)  # (sent again: each send has one answer)
    box.answered(c, True)
    assert box.repeat("cancels", ident("cancels", c)) and len(box) == 0
