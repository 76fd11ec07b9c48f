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

from sdex.chain.headsignal import HeadSignal
from sdex.chain.tx import fees_for
from sdex.settlement import gas
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_sign79_feed import (
    WAIT,
    forged,
    head,
    paid_after_snapshot,
    pay,
    proxied_node,
    until_applied,
)


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
        snap, old, n = await paid_after_snapshot(c, w)
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
            await until_applied(w, new)
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
        await until_applied(w, top)
        heads = node.mirror.announced.count
        stranger = forged(c, 1000)
        assert await proxy.announce(stranger, subscription="0x" + "ab" * 16) == 1
        new = pay(c, 1)  # (ours, announced after it on the same socket: read after it)
        await until_applied(w, new)
        # before: the stranger's header taken as a head (announced, its block known)
        assert node.mirror.announced.count == heads + 1
        assert int(stranger["number"], 16) not in [n for n, _ in w.unapplied.known]
        assert w.feed.lies == 0


def fee(block: dict[str, Any]) -> int:
    return int(block["baseFeePerGas"], 16)


@pytest.mark.parametrize("far", [True, False])
async def test_a_forged_base_fee_is_not_signed_with(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, far: bool
) -> None:
    """The feed passes the chain's next block with its hash and another ``baseFeePerGas``:
    ten times the chain's (out of EIP-1559's bounds of the fee read: never used), or one wei
    off (within them: used till the poll reads the block, which finds the lie). Before, the
    settler signed with it for ``FEE_TTL`` (here a minute: only the lie decides)."""
    monkeypatch.setattr(gas, "FEE_TTL", 60.0)
    monkeypatch.setattr(gas, "FEE_READ_AHEAD", 30.0)
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w, heads, fees = node.watcher, node.mirror.announced, node.settler.fees
        top = head(c)
        await until_applied(w, top)
        parent = fee(top)

        def forge(note: dict[str, Any]) -> dict[str, Any]:
            real = fee(note)
            if far:
                return {**note, "baseFeePerGas": hex(10 * real + 10**9)}
            near = real + 1 if real + 1 <= parent + max(parent // 8, 1) else real - 1
            return {**note, "baseFeePerGas": hex(near)}

        proxy.rewrite = forge
        count = heads.count
        new = pay(c, 1)
        await wait_for(lambda: heads.count > count, timeout=WAIT)
        sent = fee(proxy.sent[-1])
        assert sent != fee(new) and proxy.sent[-1]["hash"] == new["hash"]
        if far:  # (never used: before, signed with at once)
            assert await fees.current(node.settler.receipts) == fees_for(fee(new))
        # the poll that reads the block finds the lie (before: never, the hash the same)
        await wait_for(lambda: w.feed.lies >= 1, timeout=WAIT)
        assert await fees.current(node.settler.receipts) == fees_for(fee(new))
        proxy.rewrite = None
        await until_applied(w, new)
        assert w.status == "ok", (w.status, w.problem)


@pytest.mark.parametrize(
    ("read", "number", "announced", "bound"),
    [
        ((10, 800), 11, 900, "within"),  # (an eighth up)
        ((10, 800), 11, 700, "within"),  # (an eighth down)
        ((10, 800), 11, 901, "outside"),
        ((10, 800), 11, 699, "outside"),
        ((10, 800), 10, 800, "within"),  # (the block read)
        ((10, 800), 10, 801, "outside"),
        ((10, 800), 12, 1012, "within"),  # (two blocks: 800 -> 900 -> 1012)
        ((10, 800), 12, 1013, "outside"),
        ((10, 0), 11, 1, "within"),  # (at least 1 wei up)
        ((10, 0), 11, 2, "outside"),
        ((10, 800), 9, 800, "none"),  # (an older block's: not the latest)
        ((10, 800), 15, 800, "none"),  # (past FEE_STEPS: not used, the fee read)
        (None, 11, 800, "none"),  # (nothing read yet)
    ],
)
def test_an_announced_fee_is_bounded_by_the_fee_read(
    read: tuple[int, int] | None, number: int, announced: int, bound: str
) -> None:
    heads = HeadSignal()
    if read is not None:
        heads.read(*read)
    assert heads.bound(number, announced) == bound
    heads.announce("0x" + "11" * 32, announced, number)
    used = heads.base_fee[0] if heads.base_fee is not None else None
    assert used == (announced if bound == "within" else None)
    assert heads.refused == (bound == "outside")


async def test_a_restart_on_the_chains_head_holds_no_signing(chain: Chain, tmp_path: Path) -> None:
    """A node restarted while the chain is still at its saved head: its book is at the
    head, nothing to apply. Before, the first poll found the head unchanged and returned
    before ``caught_up``: signing held ``BOUND`` seconds, then a let-go on ``/health``."""
    cfg = node_config(chain, tmp_path / "n.db")
    async with running_node(cfg) as (node, _):
        w = node.watcher
        await wait_for(lambda: w.caught_up.is_set() and w.applied is not None, timeout=WAIT)
    async with running_node(cfg) as (node, _):
        w = node.watcher
        await wait_for(lambda: w.caught_up.is_set(), timeout=WAIT)
        said = w.unapplied.to_json()
        if w.applied is None:  # (no block since: the head unchanged, the case in point)
            assert said["oldestUnapplied"] is None and said["signing"] == "free", said
            assert said["appliedBlock"] == w.mirror.head.number, said  # type: ignore[union-attr]
