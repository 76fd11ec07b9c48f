"""sign79: what the newHeads feed says is believed only as far as the chain bears it out.

1. A stale announcement exempts no block: revert78 lets a block of the node's own settlement
   in flight alone hold no signing (``NodeHolds._own_in_flight``, by the block's
   ``transactionsRoot``: ``Watcher.announced_root``). That root was the announced header's
   at the number before a newer poll's: after a reorg whose announcement was missed, block
   N announced with our settlement alone, the other party's N' polled in its place and not
   applied yet, N' was judged by N's root, exempt, and a match of an ask N' cancelled was
   signed and reverted. Now a header stands for its number only when it is the last heard
   or linked to it by parent hashes (``sdex.watch.feed.Feed.header_at``).
2. A lying feed holds signing at most once a while: each far-ahead announcement held
   signing (every block up to it known, not applied) till the next poll dropped it, and a
   feed that re-announced after every poll held it for good. Now an announcement the chain
   contradicts has the feed distrusted (``Feed.contradicted``): the watcher polls.
3. A diagnosis's chain word taken at the watcher's latest known block (``_closed_past``
   with no block) waited for a far-ahead announced block the chain never had, the mirror's
   word on the order held for ever: it is bounded to blocks the chain confirmed.
4. A reorg to a block at the height the node applied (N' for N) held no signing while it
   was read: nothing above the applied block was known. Now a poll's answer at or below the
   applied block, not the one the mirror kept there, makes it known again.

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``) of
its JSON-RPC and its newHeads WebSocket, which drops or forges notifications and holds the
watcher's range reads."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from sdex.node.core import Node
from sdex.watch import Watcher
from sdex.watch.unapplied import Unapplied
from tests.conftest import Chain
from tests.headsproxy import HeadsProxy, heads_proxy, latest_read
from tests.nodeutil import node_config, running_node, wait_for

WAIT = 60.0


@asynccontextmanager
async def proxied_node(c: Chain, tmp: Path) -> AsyncIterator[tuple[HeadsProxy, Node]]:
    """A node whose chain (JSON-RPC and newHeads) is reached through a ``HeadsProxy``,
    subscribed and caught up."""
    async with heads_proxy(c.rpc.url) as proxy:
        cfg = node_config(c, tmp / "n.db", rpc=proxy.url)
        async with running_node(cfg) as (node, _):
            w = node.watcher
            await wait_for(lambda: w.subscribed and w.caught_up.is_set(), timeout=WAIT)
            yield proxy, node


def head(c: Chain) -> dict[str, Any]:
    block: dict[str, Any] = c.rpc.call("eth_getBlockByNumber", "latest", False)
    return block


def pay(c: Chain, wei: int) -> dict[str, Any]:
    """One transfer mined alone (automine): its block."""
    c.rpc.call(
        "eth_sendTransaction", {"from": c.address(15), "to": c.address(16), "value": hex(wei)}
    )
    return head(c)


async def until_applied(w: Watcher, block: dict[str, Any]) -> None:
    """Till ``w`` has applied ``block``."""
    await wait_for(lambda: w.applied is not None and w.applied.hash == block["hash"],
                   timeout=WAIT)  # fmt: skip


async def paid_after_snapshot(c: Chain, w: Watcher) -> tuple[str, dict[str, Any], int]:
    """A snapshot of ``c``, then a transfer mined alone (N) and applied by ``w``: the
    snapshot, N's block and N."""
    snap = c.rpc.call("evm_snapshot")
    old = pay(c, 1)
    await until_applied(w, old)
    return snap, old, int(old["number"], 16)


def forged(c: Chain, ahead: int) -> dict[str, Any]:
    """A header ``ahead`` blocks past the chain's head, which the chain does not have (the
    next block's on the head, as a real one would be)."""
    h = head(c)
    return {
        **h,
        "number": hex(int(h["number"], 16) + ahead),
        "hash": "0x" + secrets.token_hex(32),
        "parentHash": h["hash"] if ahead == 1 else "0x" + secrets.token_hex(32),
        "transactionsRoot": "0x" + secrets.token_hex(32),
    }


async def test_a_stale_announcement_stands_for_no_block(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        top = head(c)
        await until_applied(w, top)
        snap = c.rpc.call("evm_snapshot")
        proxy.hold_ranges = True  # (block N and what follows stay unapplied)
        old = pay(c, 1)  # block N, announced
        n = int(old["number"], 16)
        await wait_for(lambda: proxy.held >= 1, timeout=WAIT)  # (the poll reading N)
        assert c.rpc.call("evm_revert", snap) is True
        proxy.passes = lambda note: False  # (N' is never announced)
        new = pay(c, 2)  # block N' in its place: another transaction
        assert int(new["number"], 16) == n and new["hash"] != old["hash"]
        reads = proxy.latest_reads
        await proxy.let_through()  # (the read of N answers N': inconsistent, polled)
        await wait_for(lambda: proxy.latest_reads > reads and proxy.held >= 2, timeout=WAIT)
        assert w.chain_head == n
        assert n in [k for k, _ in w.unapplied.known]  # (N' known, not applied)
        root = w.announced_root(n)
        # before: N's root (the stale announcement), which exempted N' were N ours alone
        assert root != old["transactionsRoot"], (root, old["transactionsRoot"])
        assert root in ("", new["transactionsRoot"])
        proxy.passes = lambda note: True
        await proxy.free()
        await until_applied(w, new)


async def lying(
    proxy: HeadsProxy, c: Chain, polls: int, say: Callable[[], str], ahead: int
) -> list[str]:
    """The proxy announces a forged far-ahead head after each of the watcher's next
    ``polls`` reads of the latest block: ``say()`` as each read came."""
    said: list[str] = []
    tasks: set[asyncio.Future[int]] = set()

    def again() -> None:
        said.append(say())
        t = asyncio.ensure_future(proxy.announce(forged(c, ahead)))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    start = proxy.latest_reads
    proxy.on_latest = again
    assert await proxy.announce(forged(c, ahead)) == 1
    await wait_for(lambda: proxy.latest_reads >= start + polls, timeout=WAIT)
    proxy.on_latest = lambda: None
    return said


@pytest.mark.parametrize("ahead", [1000, 1])  # (1: the next block, on our head)
async def test_a_lying_feed_holds_signing_once(chain: Chain, tmp_path: Path, ahead: int) -> None:
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        said = await lying(proxy, c, 12, lambda: str(w.unapplied.to_json()["signing"]), ahead)
        # the first lie may hold signing till the poll that finds it out; none after
        held = [s for s in said[2:] if s == "held"]
        # before: held at nearly every poll (each re-announcement held it again)
        assert not held, said
        assert w.feed.lies >= 1
        assert w.status == "ok", (w.status, w.problem)
        top = head(c)
        assert w.chain_head <= int(top["number"], 16) + 1


async def test_a_chain_word_waits_for_no_block_a_lie_announced(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        lie = forged(c, 1000)
        far = int(lie["number"], 16)

        def checks_the_lie(msg: Any) -> bool:  # (the poll's read of block ``far``)
            return isinstance(msg, dict) and msg.get("params", [None])[0] == lie["number"]

        proxy.holds, proxy.hold_ranges = checks_the_lie, True
        assert await proxy.announce(lie) == 1
        await wait_for(lambda: proxy.held >= 1, timeout=WAIT)
        assert far in [n for n, _ in w.unapplied.known]
        order = secrets.token_bytes(32)
        # a diagnosis's read of the chain, its block not given: the latest known taken
        node._closed_past(order, None)
        assert node._read_past_mirror(order)  # (the mirror is below: its word waits)
        await proxy.free()
        await wait_for(lambda: w.feed.lies >= 1, timeout=WAIT)
        top = pay(c, 3)  # (a block past the read: the mirror's word is due there)
        await until_applied(w, top)
        # before: it waited for block ``far``, which the chain never had
        assert not node._read_past_mirror(order), (node._read_past, far)


async def test_a_block_replacing_ours_holds_signing(chain: Chain, tmp_path: Path) -> None:
    """A reorg to a block at the height the node applied (N' for its N): the book is the
    old branch's till the reorg is applied, and signing waits for it."""
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        snap = c.rpc.call("evm_snapshot")
        old = pay(c, 1)
        await until_applied(w, old)
        assert w.unapplied.to_json()["signing"] == "free"
        proxy.holds = lambda msg: not (isinstance(msg, dict) and latest_read(msg))
        proxy.hold_ranges = True  # (every read but the latest block's: the reorg waits)
        assert c.rpc.call("evm_revert", snap) is True
        new = pay(c, 2)  # (N' in N's place)
        assert new["number"] == old["number"] and new["hash"] != old["hash"]
        await wait_for(lambda: proxy.held >= 1 and w.chain_head == int(new["number"], 16),
                       timeout=WAIT)  # fmt: skip
        said = w.unapplied.to_json()
        await proxy.free()
        await until_applied(w, new)
        # before: "free" (N' is no higher than the N applied), a match signed on N's book
        assert said["signing"] == "held", said
        assert w.unapplied.to_json()["signing"] == "free"


@pytest.mark.parametrize(
    ("applied", "known", "replaced", "after"),
    [
        (10, [], 10, [10]),  # (the head applied replaced)
        (10, [], 8, [8]),  # (a lower block replaced: the chain went back)
        (10, [11, 12], 10, [10]),  # (those above it were of the old branch)
        (10, [11], 11, [11]),  # (not applied: as it was)
    ],
)
def test_a_replaced_block_is_known_again(
    applied: int, known: list[int], replaced: int, after: list[int]
) -> None:
    u = Unapplied()
    u.caught_up(applied)
    for n in known:
        u.saw(n)
    u.replaced(replaced)
    assert [n for n, _ in u.known] == after
    assert u.holding()
