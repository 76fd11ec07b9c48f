"""review80: a newHeads feed a step ahead of the JSON-RPC backend is not a liar.

A provider's WebSocket and HTTP are often served by different backends behind a balancer:
a block is announced before the backend that answers reads has it. sign79 took each such
announcement for a lie (``Contradicted``: no block at its number) and distrusted the feed
for 30 s, doubled at each one up to 10 minutes and never reset by blocks announced on our
head, so an honest feed was not listened to for good after a few blocks (the node polled
``latest`` every 50 ms instead). Now a contradicted announcement whose very block the chain
has once it is read (the same hash at its number) was the backend's lag: the distrust it
made is lifted, and it counts toward no longer one.

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``)
whose JSON-RPC answers as a backend a block behind the feed, then catches up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.watch import Watcher, feed
from tests.conftest import Chain
from tests.headsproxy import HeadsProxy, latest_read
from tests.nodeutil import wait_for
from tests.test_sign79_feed import (
    WAIT,
    forged,
    head,
    paid_after_snapshot,
    pay,
    proxied_node,
    until_applied,
)


async def lagged_block(c: Chain, proxy: HeadsProxy, w: Watcher, wei: int) -> None:
    """A block announced while the reads' backend is a block behind, then has it: applied."""
    top = head(c)
    await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"], timeout=WAIT)
    lies, hidden = w.feed.lies, proxy.hidden
    proxy.visible = int(top["number"], 16)  # (the reads' backend a block behind)
    new = pay(c, wei)  # (announced by the feed's backend at once)
    await wait_for(lambda: w.feed.lies > lies and proxy.hidden > hidden, timeout=WAIT)
    proxy.visible = None  # (the backend has it now)
    await wait_for(lambda: w.applied is not None and w.applied.hash == new["hash"], timeout=WAIT)


async def test_a_feed_ahead_of_a_lagging_backend_stays_trusted(
    chain: Chain, tmp_path: Path
) -> None:
    async with proxied_node(chain, tmp_path) as (proxy, node):
        w = node.watcher
        for k in range(3):
            await lagged_block(chain, proxy, w, k + 1)
            # before: distrusted 30 s, then 60, 120 (the node polling instead)
            await wait_for(lambda: w.listening, timeout=WAIT / 4)
        assert w.feed.lags == 3
        assert w.status == "ok", (w.status, w.problem)


async def lie(c: Chain, proxy: HeadsProxy, w: Watcher) -> float:
    """The next block forged on the feed, found out: the distrust it made, seconds."""
    lies = w.feed.lies
    assert await proxy.announce(forged(c, 1)) == 1
    await wait_for(lambda: w.feed.lies > lies, timeout=WAIT)
    return w.feed.distrust


async def applied(c: Chain, w: Watcher, wei: int) -> None:
    """A block mined (announced), applied."""
    top = pay(c, wei)
    await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"], timeout=WAIT)


async def test_a_lie_after_blocks_borne_out_is_not_doubled(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lie, the feed's next blocks borne out (applied as announced), then another lie: it
    is distrusted ``DISTRUST`` again, not twice as long (before: the run went on, only a
    far-ahead announcement read as announced ended it, so each lie over a node's life
    doubled the next distrust, up to 10 minutes)."""
    monkeypatch.setattr(feed, "DISTRUST", 0.5)  # (the test's pace: the rule is the same)
    async with proxied_node(chain, tmp_path) as (proxy, node):
        w = node.watcher
        said = []
        for k in range(3):
            said.append(await lie(chain, proxy, w))
            await wait_for(lambda: w.listening, timeout=WAIT)
            for wei in (1, 2):  # (blocks announced and applied: the second's poll sees it)
                await applied(chain, w, 10 * k + wei)
        assert said == [0.5, 0.5, 0.5], said  # before: [0.5, 1.0, 2.0]


async def test_an_old_head_announced_again_is_no_fresh_head_for_a_send(
    chain: Chain, tmp_path: Path
) -> None:
    """A feed behind the chain (a lagging or repeating WebSocket backend) announces a block
    the node has: a send right after it still asks the chain's head (``before_send``) and
    waits for the block it did not hear of. Before, any announcement made the head fresh
    (``HEAD_FRESH``), so the send went against a book a block behind (a match of an order
    that block cancelled: a paid revert)."""
    async with proxied_node(chain, tmp_path) as (proxy, node):
        w = node.watcher
        old = head(chain)
        await until_applied(w, old)
        proxy.passes = lambda note: False  # (the feed hears of no new block...)
        proxy.hold_ranges = True  # (...and the block stays unapplied a while)
        new = pay(chain, 7)
        heads = node.mirror.announced.count
        assert await proxy.announce(old) == 1  # (...and says the old head again)
        async with asyncio.timeout(WAIT):  # (the send right as it is heard: loop turns)
            while node.mirror.announced.count == heads:
                await asyncio.sleep(0)
        waits = w.unapplied.send_waits
        await w.before_send()
        # before: the old head counted as heard now, nothing asked, the send not held
        assert w.unapplied.send_waits == waits + 1, w.unapplied.to_json()
        await proxy.free()
        await until_applied(w, new)


async def test_a_head_on_another_block_than_ours_holds_signing_from_ours(
    chain: Chain, tmp_path: Path
) -> None:
    """A reorg whose new branch is higher than the node's head (N' and N+1' for its N),
    heard of first at N+1', whose parent is not our N: N is known and not applied (its
    reorg read meanwhile). Before, only N+1' was known, so were N+1' a block of the node's
    own settlement alone (revert78's exemption) nothing held signing against the old
    branch's book while the reorg was read, N' (a maker's cancel, say) unseen."""
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        snap, _old, n = await paid_after_snapshot(c, w)
        proxy.passes = lambda note: False  # (the new branch is not announced: polled)
        proxy.holds = lambda msg: not (isinstance(msg, dict) and latest_read(msg))
        proxy.hold_ranges = True  # (every read but the latest block's: the reorg waits)
        assert c.rpc.call("evm_revert", snap) is True
        assert int(pay(c, 2)["number"], 16) == n  # (N' in N's place)
        top = pay(c, 3)  # (N+1' on it)
        await wait_for(lambda: w.chain_head == n + 1, timeout=WAIT)
        known = [k for k, _ in w.unapplied.known]
        await proxy.free()
        await until_applied(w, top)
        assert known[:1] == [n], (known, n)  # before: [n + 1], N taken as applied
