"""A node stopped and started again on its SQLite store while the chain moved on or replaced
its saved head, the start's catch-up failing (watch82, watch83, watch84, review86a, start86):
the set-ups they share.

Real Hardhat (``evm_snapshot``/``evm_revert``), a real node in this process; the second start
behind a real loopback proxy (``tests.headsproxy``) whose reads of the latest block answer
null after the start's first (the catch-up's, and ``run``'s, fail)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sdex.node.core import Node
from tests.conftest import Chain
from tests.headsproxy import HeadsProxy, Note, heads_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import revert
from tests.test_sign79_feed import WAIT, head, paid_after_snapshot, pay, until_applied


async def replaced_while_down(c: Chain, db: Path) -> tuple[dict[str, Any], dict[str, Any], int]:
    """A node on ``db`` run till a transfer mined alone after a snapshot (N) is applied, then
    stopped; the chain reverted to the snapshot and another transfer mined in N's place (N'):
    N's block, N''s, and N."""
    async with running_node(node_config(c, db)) as (node, _):
        snap, old, n = await paid_after_snapshot(c, node.watcher)
    revert(c, snap)
    new = pay(c, 2)  # (N' in N's place while the node is down)
    assert int(new["number"], 16) == n and new["hash"] != old["hash"]
    return old, new, n


async def ran_to_head(c: Chain, db: Path) -> dict[str, Any]:
    """A node run on ``db`` till it applied the chain's head, then stopped: that head's
    block."""
    async with running_node(node_config(c, db)) as (node, _):
        top = head(c)
        await until_applied(node.watcher, top)
    return top


async def behind_while_down(c: Chain, db: Path, blocks: int) -> tuple[int, list[dict[str, Any]]]:
    """A node on ``db`` run till it applied the chain's head, then stopped; ``blocks``
    transfers mined alone while it is down: the head it saved, and their blocks."""
    saved = int((await ran_to_head(c, db))["number"], 16)
    return saved, mined_while_down(c, saved, blocks)


def mined_while_down(c: Chain, saved: int, blocks: int) -> list[dict[str, Any]]:
    """``blocks`` transfers mined alone past the saved head ``saved`` (the node down): their
    blocks."""
    later = [pay(c, 3 + i) for i in range(blocks)]
    assert int(later[-1]["number"], 16) == saved + blocks
    return later


async def replaced_unannounced(
    c: Chain, proxy: HeadsProxy, node: Node
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """While ``node`` runs behind ``proxy``: a transfer mined alone after a snapshot (N) and
    applied; then nothing announced, the chain reverted to the snapshot and another transfer
    mined in N's place (N'): N's block, N''s, and N."""
    snap, old, n = await paid_after_snapshot(c, node.watcher)
    proxy.passes = lambda note: False  # (N' is not announced: polled)
    assert c.rpc.call("evm_revert", snap) is True
    new = pay(c, 2)
    assert int(new["number"], 16) == n and new["hash"] != old["hash"]
    return old, new, n


@asynccontextmanager
async def failing_catch_up(
    c: Chain,
    db: Path,
    on_latest: Callable[[], None] | None = None,
    *,
    visible: int | None = None,
    lagging: Sequence[Note] = (),
) -> AsyncIterator[tuple[HeadsProxy, Node]]:
    """A node started again on ``db`` behind a ``heads_proxy`` announcing nothing, whose
    reads of the latest block answer the chain's head once (the start's), then ``lagging``'s
    headers in turn (a lagging backend's), and null after (``on_latest`` called at each);
    ``visible``: its ``eth_blockNumber`` that block (a backend still there: ``HeadsProxy``'s
    ``visible``); yielded once the catch-up's reads failed (3 reads, and the lagging ones)."""
    async with heads_proxy(c.rpc.url) as proxy:
        proxy.passes = lambda note: False
        proxy.visible = visible
        # (the start's read, then the lagging answers, then no answer)
        proxy.latest = [head(c), *lagging] + [None] * 100_000
        if on_latest is not None:
            proxy.on_latest = on_latest
        async with running_node(node_config(c, db, rpc=proxy.url)) as (node, _):
            reads = 3 + len(lagging)
            await wait_for(lambda: proxy.latest_reads >= reads, timeout=WAIT)  # (the catch-up's)
            yield proxy, node


async def held_past(node: Node, bound: float) -> dict[str, Any]:
    """Once ``node``'s blocks known and not applied are held past ``bound`` (and half a
    second): what its ``Unapplied`` says; nothing applied by this start, a head mirrored."""
    w = node.watcher
    await wait_for(lambda: w.unapplied.behind_for() > bound + 0.5, timeout=WAIT)
    said = w.unapplied.to_json()
    assert w.applied is None and w.mirror.head is not None
    return said


async def caught_up(proxy: HeadsProxy, node: Node, block: dict[str, Any]) -> dict[str, Any]:
    """The proxy's reads of the latest block let through; once the node applied ``block``,
    nothing held: its ``Unapplied`` said (``/health``'s ``chainMirror``)."""
    proxy.latest.clear()
    await until_applied(node.watcher, block)
    said = node.watcher.unapplied.to_json()
    assert said["oldestUnapplied"] is None and said["signing"] == "free", said
    return said
