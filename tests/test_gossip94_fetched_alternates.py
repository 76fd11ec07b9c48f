"""gossip94: a fetched cancel refused for its sender when taken again gives way to another
sender's cancel of the same order, kept meanwhile.

``FetchedCancels`` watches one cancel an order at a time; a second one fetched for the same
order while the first was watched was skipped, even from another peer. If the first's commit
failed and, taken again after the backoff, it was refused for its sender (a 4xx: e.g. that
peer over its quota of kept cancels), the watch ended and the order's row stayed without its
cancel: the order cancelled in memory, so no round fetched it again, and a restart brought
it back open. Now the other senders' cancels of the order are kept (``ALTERNATES``) and
taken in turn when the watched one is refused.

A node's real ``Gossip`` driver (``tests.p2putil.serve_gossip``, on loopback), its node in
memory: the first commit fails (``StoreError``), the first sender's cancel is refused when
taken again, the second sender's is taken and stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest

from sdex.gossip import GossipConfig, fetchedcancels
from sdex.gossip.fetchedcancels import FetchedCancels
from sdex.sqlwriter import StoreError
from tests.nodeutil import wait_for
from tests.p2putil import MemoryNode, Notice, serve_gossip

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""
HASH = "0x" + "cd" * 32


class PerSender(MemoryNode):
    """The first cancel's commit fails; then ``first``'s are refused (429: over its quota),
    others' stored at once."""

    def __init__(self) -> None:
        super().__init__()
        self.tries: list[str] = []
        self.stored: list[str] = []
        self.fail: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        self.tries.append(peer)
        if len(self.tries) == 1:
            return Notice(202, {"status": "kept"}, stored=self.fail)
        if peer == "first":
            return Notice(429, {"reason": "over its quota of kept cancels"})
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        self.stored.append(peer)
        return Notice(202, {"status": "kept"}, stored=done)


N = TypeVar("N", bound=MemoryNode)


@asynccontextmanager
async def fetching(make: type[N]) -> AsyncIterator[tuple[N, FetchedCancels]]:
    """A real ``Gossip`` driver started on loopback, its node a ``make``: (that node, the
    driver's fetched cancels); shut down and cleaned up after."""
    m = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=make)
    try:
        await m.gossip.start()
        node = m.node
        assert isinstance(node, make)
        yield node, m.gossip.fetched
    finally:
        await m.runner.shutdown()
        await m.gossip.stop()
        await m.runner.cleanup()


async def test_another_senders_cancel_is_taken_when_the_watched_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fetchedcancels, "RETRY_FIRST", 0.05)
    async with fetching(PerSender) as (node, fetched):
        notice = {"orderHash": HASH, "signature": "0x" + "22" * 65}
        fetched.take("first", notice)
        fetched.take("second", dict(notice))  # (while the first is watched)
        node.fail.set_exception(StoreError("disk I/O error"))

        async def settled() -> bool:
            return fetched.retried >= 1 and HASH not in fetched._pending

        await wait_for(settled, timeout=BOUND)
        assert node.stored == ["second"], node.tries  # before: never stored


class RefusesFirst(MemoryNode):
    """``first``'s cancels refused outright (404: no room to keep one more of its); others'
    stored at once."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[str] = []

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        if peer == "first":
            return Notice(404, {"reason": "order not found"})
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        self.stored.append(peer)
        return Notice(202, {"status": "kept"}, stored=done)


async def test_a_cancel_refused_on_its_first_take_leaves_no_watch_to_hold_another_back() -> None:
    """gossip95 (left43: "a cancel refused outright on its first take is not kept for a later
    alternate"): none needs to be. A refused first take starts no watch, so another sender's
    cancel of the order, fetched later, is taken at once, not kept behind it (a refused one
    did not apply: its order stays open here and anti-entropy asks why of it again)."""
    async with fetching(RefusesFirst) as (node, fetched):
        notice = {"orderHash": HASH, "signature": "0x" + "22" * 65}
        fetched.take("first", notice)
        assert HASH not in fetched._pending  # (no watch)
        fetched.take("second", dict(notice))
        assert node.stored == ["second"]
        assert (fetched.unstored, fetched.retried) == (0, 0)
