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

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_sign79_feed import WAIT, forged, head, pay, proxied_node


def child(block: dict[str, Any], parent: str) -> dict[str, Any]:
    """A header one past ``block`` on ``parent`` (a backend's on another branch)."""
    return {
        **block,
        "number": hex(int(block["number"], 16) + 1),
        "hash": "0x" + secrets.token_hex(32),
        "parentHash": parent,
        "transactionsRoot": "0x" + secrets.token_hex(32),
    }


@pytest.mark.parametrize("reorg", [False, True])
async def test_a_flap_to_a_stale_sibling_holds_no_longer_than_our_head_comes_back(
    chain: Chain, tmp_path: Path, reorg: bool
) -> None:
    """A poll's latest block on another parent than our head N, then our head N again at
    every poll: a flap (the chain still has our N) is cleared by the first such poll; a
    real reorg (the chain has N' there, a stale backend answers N as latest) holds on."""
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        snap = c.rpc.call("evm_snapshot")
        old = pay(c, 1)
        n = int(old["number"], 16)
        await wait_for(lambda: w.applied is not None and w.applied.hash == old["hash"],
                       timeout=WAIT)  # fmt: skip
        let_go = w.unapplied.let_go
        parent = "0x" + secrets.token_hex(32)  # (a stale sibling of N)
        if reorg:
            proxy.passes = lambda note: False  # (N' is not announced)
            assert c.rpc.call("evm_revert", snap) is True
            new = pay(c, 2)
            assert int(new["number"], 16) == n and new["hash"] != old["hash"]
            parent = new["hash"]
        reads = proxy.latest_reads
        proxy.latest = [child(old, parent)] + [old] * (1_000 if reorg else 0)
        await wait_for(lambda: proxy.latest_reads >= reads + 3, timeout=WAIT)
        said = w.unapplied.to_json()
        if reorg:  # (N' at N: our N known and not applied, whatever the latest says)
            assert (said["appliedBlock"], said["oldestUnapplied"]) == (n - 1, n), said
            proxy.latest.clear()
            proxy.passes = lambda note: True
            await wait_for(lambda: w.applied is not None and w.applied.hash == new["hash"],
                           timeout=WAIT)  # fmt: skip
            return
        # before: N held BOUND seconds, then a let-go, and unapplied till the next block
        await wait_for(lambda: w.unapplied.to_json()["oldestUnapplied"] is None, timeout=30)
        said = w.unapplied.to_json()
        assert said["signing"] == "free" and said["appliedBlock"] == n, said
        assert w.unapplied.let_go == let_go, said
        assert said["replacedDisproven"] >= 1, said


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
