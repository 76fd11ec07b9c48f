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

from pathlib import Path

from sdex.watch import Watcher
from tests.conftest import Chain
from tests.headsproxy import HeadsProxy
from tests.nodeutil import wait_for
from tests.test_sign79_feed import WAIT, head, pay, proxied_node


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
