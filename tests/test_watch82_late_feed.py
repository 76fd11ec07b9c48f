"""watch82: a newHeads feed that announces every block late makes no head fresh for a send.

A send skips its ask of the chain's head (``PollLoop.before_send``) when the watcher heard
the head within ``HEAD_FRESH``. review80 kept an old head announced again from counting;
but a feed that announces each block late (its backend behind, a slow relay) still had each
announcement count as the head heard: a send right after it asked nothing, while a newer
block, mined and not announced yet (a maker's cancel), was the chain's (a paid revert). Now
an announcement of a block the chain's own word told first (a poll's answer, a send's ask)
shows the feed late, and for ``LATE`` seconds announcements make no head fresh: each send
asks. Nor does an announcement taken for the latest block drop the blocks the chain told
above it (only the chain's own answer does).

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``)
holding every newHeads notification till the test passes it on."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sdex.watch import loop as watch_loop
from sdex.watch.unapplied import Unapplied
from tests.conftest import Chain
from tests.headsproxy import latest_read
from tests.nodeutil import wait_for
from tests.test_sign79_feed import WAIT, head, pay, proxied_node, until_applied


async def test_a_late_feeds_announcement_is_no_fresh_head_for_a_send(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_loop, "HEAD_FRESH", 0.5)  # (the test's pace: the rule's the same)
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w, heads = node.watcher, node.mirror.announced
        top = head(c)
        await until_applied(w, top)
        proxy.late = True  # (every notification held till passed on)
        a = pay(c, 1)  # (the safety poll tells the node of A before the feed does)
        await until_applied(w, a)
        await wait_for(lambda: len(proxy.queued) >= 1, timeout=WAIT)
        count = heads.count
        assert await proxy.deliver() == 1  # (A's, late)
        await wait_for(lambda: heads.count > count, timeout=WAIT)
        proxy.holds, proxy.hold_ranges = latest_read, True  # (no poll tells of B or C)
        await wait_for(lambda: time.monotonic() - w.unapplied.heard > watch_loop.HEAD_FRESH,
                       timeout=WAIT)  # fmt: skip
        pay(c, 2)  # (B)
        cancel = pay(c, 3)  # (C: a maker's cancel, say; mined, not announced yet)
        await wait_for(lambda: len(proxy.queued) >= 2, timeout=WAIT)
        count = heads.count
        assert await proxy.deliver() == 1  # (B's, late: C is the chain's)
        async with asyncio.timeout(WAIT):  # (the send right as it is heard: loop turns)
            while heads.count == count:
                await asyncio.sleep(0)
        await w.before_send()
        known = [n for n, _ in w.unapplied.known]
        # before: B's late announcement counted as the head heard, nothing asked, C unknown
        assert int(cancel["number"], 16) in known, w.unapplied.to_json()
        assert w.unapplied.late >= 1
        proxy.late = False
        await proxy.deliver(len(proxy.queued))
        await proxy.free()
        await until_applied(w, cancel)


async def test_a_late_announcement_taken_for_the_latest_keeps_the_blocks_told_above(
    chain: Chain, tmp_path: Path
) -> None:
    """A send asks the chain's head (C) while the feed's B is still on its way and the
    reads of the latest block fail; B's announcement, taken for the latest block by the
    next poll, said the chain was back at B: C dropped from the blocks known, the send's
    wait ended with B applied and went against a book without C."""
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        top = head(c)
        await until_applied(w, top)
        proxy.late = True
        proxy.latest = [None] * 10_000  # (every read of the latest block fails)
        b = pay(c, 2)
        cancel = pay(c, 3)  # (C, on B)
        await wait_for(lambda: len(proxy.queued) >= 2, timeout=WAIT)
        waits = w.unapplied.send_waits
        send = asyncio.ensure_future(w.before_send())
        try:  # (its ask told of C, and it waits: then B's announcement)
            await wait_for(lambda: w.unapplied.send_waits > waits, timeout=WAIT)
            assert await proxy.deliver() == 1
            await until_applied(w, b)
            async with asyncio.timeout(WAIT):
                await send
        finally:
            send.cancel()
        known = [n for n, _ in w.unapplied.known]
        # before: C dropped as B was taken for the latest: the send not held for it
        assert int(cancel["number"], 16) in known, w.unapplied.to_json()
        proxy.late = False
        proxy.latest.clear()
        await proxy.deliver(len(proxy.queued))
        await until_applied(w, cancel)


@pytest.mark.parametrize(
    ("told", "announced", "late", "fresh"),
    [
        (None, 5, 0, True),  # (nothing told: on time, the head heard)
        (4, 5, 0, True),  # (the chain told the block below: on time)
        (5, 5, 1, False),  # (the chain told it first: late, not fresh)
        (7, 5, 1, False),  # (and below what the chain told)
    ],
)
def test_an_announcement_is_fresh_only_while_the_feed_is_on_time(
    told: int | None, announced: int, late: int, fresh: bool
) -> None:
    u = Unapplied()
    if told is not None:
        u.saw(told, polled=True)  # (a poll's answer: the chain's own word)
    u.heard = 0.0
    u.announced(announced)
    assert u.late == late
    assert (u.heard > 0.0) == fresh
    u.heard = 0.0
    u.announced(announced + 10)  # (a later one, above all: on time only if none came late)
    assert (u.heard > 0.0) == fresh
    u.saw(announced + 5, feed=True)  # (an announcement taken for the latest: drops none)
    assert u.known[-1][0] == announced + 10
