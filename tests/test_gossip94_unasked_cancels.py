"""gossip94: a fetch's answer brings cancels only for the hashes it asked about (``why``).

Anti-entropy asks a peer why an order open here is not open there (``/p2p/fetch``'s
``why``); the answer's cancels were checked by count alone (at most one a hash asked), not
that each names a hash asked about. A hostile peer handed over kept cancels (signed, so the
node takes them) of any order, and while the store stalled each took one of
``FetchedCancels``' ``PENDING_MAX`` watch slots. Now only the cancels for hashes asked are
taken; the rest are counted (``cancelsUnasked``) and cost the peer.

Two in-process nodes on loopback (``tests.p2putil``: the real ``Gossip`` driver and routes
on real aiohttp servers). Node 0 holds an order open that node 1 does not, and its store
stalls (each cancel's commit never ends); node 1 answers the ``why`` with a cancel of
another order (or, honest, of the one asked)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import ClassVar

import pytest

from sdex.gossip import GossipConfig
from tests.nodeutil import wait_for
from tests.p2putil import MemoryNode, Notice, gossip_net, order

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""
HELD = order(1)
OTHER = "0x" + "ab" * 32


class Stalls(MemoryNode):
    """Holds ``HELD`` open; keeps each cancel it is given, its commit never done."""

    def __init__(self) -> None:
        super().__init__()
        self.add(dict(HELD))
        self.got: list[str] = []
        self.stall: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        assert isinstance(notice, dict)
        self.got.append(str(notice["orderHash"]).lower())
        return Notice(202, {"status": "kept"}, stored=self.stall)


class Answers(MemoryNode):
    """Takes no order; answers a ``why`` with a cancel of ``names`` (one a hash asked:
    within the count)."""

    names: ClassVar[str] = OTHER

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        return "rejected"

    async def cancel_proofs(self, hashes: Iterable[str]) -> list[dict[str, str]]:
        return [{"orderHash": self.names, "signature": "0x" + "11" * 65} for _ in hashes]


@pytest.mark.parametrize("names", [OTHER, HELD["hash"].upper().replace("0X", "0x")])
async def test_only_cancels_for_the_hashes_asked_are_taken(
    names: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Answers, "names", names)
    mine = GossipConfig(dial_interval=0.1, ae_interval=0.2)
    quiet = GossipConfig(dial_interval=0.1, ae_interval=1e6)
    async with gossip_net(2, [mine, quiet], makes=[Stalls, Answers]) as (a, b):
        node = a.node
        assert isinstance(node, Stalls)
        core, key = a.gossip.core, b.gossip.node_id

        async def answered() -> bool:
            return bool(node.got) or core.cancels_unasked > 0

        await wait_for(answered, timeout=BOUND)
        peer = a.gossip.peers.get(key)
        if names == OTHER:  # (before: taken, a watch slot held while the store stalls)
            assert node.got == [], node.got
            assert core.cancels_unasked >= 1
            assert peer is None or peer.score < 0
            assert a.gossip.fetched.to_json()["fetchedCancelsUnstored"] == 0
            assert core.stats()["cancelsUnasked"] == core.cancels_unasked
        else:  # the hash asked (its case aside): taken, the peer not charged
            assert node.got[0] == HELD["hash"].lower()
            assert core.cancels_unasked == 0
            assert peer is not None and peer.score >= 0
        node.stall.set_result(None)
