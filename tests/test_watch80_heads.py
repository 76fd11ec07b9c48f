"""watch80: what the chain watcher takes from the newHeads feed and a poll's answers.

1. A backend that flaps to a stale sibling (a poll's latest block on another block than our
   head, ``Unapplied.replaced``), then answers our head again: the poll that finds our head
   unchanged returned before ``caught_up``, so the mark held signing ``BOUND`` seconds and
   then ``/health`` said a let-go and a stale ``oldestUnapplied`` till the next block. Now
   that poll reads the replaced block again (a request of its own): ours, the mark is
   cleared; another, a real reorg, it holds on.
2. A notification of another subscription than ours was taken as a new head.
3. A feed that copies a real header's hash and changes its ``baseFeePerGas``: the settler
   signed with that fee till the next poll. An announced fee is now used only within
   EIP-1559's bounds of the last one read from the chain, and a poll that reads the
   announced block with another fee counts a lie.

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``) of
its JSON-RPC and its newHeads WebSocket."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_sign79_feed import WAIT, forged, head, pay, proxied_node


async def test_another_subscriptions_notification_is_no_head(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        top = head(c)
        await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"],
                       timeout=WAIT)  # fmt: skip
        heads = node.mirror.announced.count
        stranger = forged(c, 1000)
        assert await proxy.announce(stranger, subscription="0x" + "ab" * 16) == 1
        new = pay(c, 1)  # (ours, announced after it on the same socket: read after it)
        await wait_for(lambda: w.applied is not None and w.applied.hash == new["hash"],
                       timeout=WAIT)  # fmt: skip
        # before: the stranger's header taken as a head (announced, its block known)
        assert node.mirror.announced.count == heads + 1
        assert int(stranger["number"], 16) not in [n for n, _ in w.unapplied.known]
        assert w.feed.lies == 0
