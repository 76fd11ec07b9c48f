"""The store's writer stalled under the watcher (real Hardhat and SQLite: a trigger on the
writer's connection calls a function that blocks its thread until the test lets it go). The
watcher waits for the commit however long it takes, its head held before it; ``/health``
says so after ``Watcher.store_wait`` (``failing``, the store named), and an order that needs
a chain read is told why it is not judged. Once the store commits: ``ok``, the head saved."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sdex.errors import ChainError
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, stall_writer, wait_for, writer_stuck
from tests.test_mirror import synced
from tests.test_node import ALICE, CAROL, E6, E18, ask, node_with_resting_ask
from tests.test_watch_behind import health_says


async def test_a_stalled_store_is_said_on_health_and_the_head_waits_for_it(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding (L8): the watcher awaited the store's commit with no bound; a writer
    thread that hung kept the watcher waiting while ``/health`` said ``ok`` (its last
    poll's). And intake told wallets the node was behind or unreachable when it was its
    store that failed."""
    c = chain
    gate = threading.Event()
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w = node.watcher
        try:
            await synced(node, c)
            w.store_wait = 0.3
            head_write = "stall_head BEFORE INSERT ON meta WHEN NEW.key = 'mirror_head'"
            await stall_writer(node, gate, head_write)
            c.rpc.call("evm_mine")  # (a block whose mirror head the store holds)
            block = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: health_says(api, "failing"), timeout=20)
            code, health = await api.get("/health")
            assert code == 503 and "the store" in health["chainMirror"]["problem"], health
            assert w.applied is not None and w.applied.number < block  # not saved: held
            code, body = await api.post_order(c.sign(ask(c, CAROL, E18, 3100 * E6)))
            assert code == 503 and body.get("rejection") == "CHAIN_UNAVAILABLE", body
            assert "cannot apply the chain's changes" in str(body), body
            assert "behind or unreachable" not in str(body), body
        finally:
            gate.set()
        await synced(node, c)
        await wait_for(lambda: health_says(api, "ok"), timeout=20)
        assert w.applied is not None and w.applied.number >= block


async def test_a_failed_polls_rows_held_by_the_store_are_said_on_health(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: a poll that failed after its block queued row writes (the real
    ``_apply_block`` can: a chain read of a later rejudge page, an EIP-1271 batch) leaves
    them pending; the next poll's ``track_writes`` waited for them with no bound, so a hung
    writer held the watcher while ``/health`` kept the failed poll's verdict (here
    ``unreachable``), never naming the store. Now it says ``failing`` after
    ``Watcher.store_wait``, waits on, and is ``ok`` once the store commits."""
    c = chain
    gate = threading.Event()
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        w = node.watcher
        hex_hash = resting.hash_hex.lower()

        apply_block = node._apply_block
        failed: list[int] = []

        async def failing_once_after_its_writes(changes: Any) -> None:
            await apply_block(changes)  # (the close of ``resting`` queued: held)
            if not failed:
                failed.append(changes.head)
                raise ChainError("the chain went away after the block's closes")

        try:
            await synced(node, c)
            w.store_wait = 0.3
            close = f"stall_close BEFORE UPDATE OF status ON orders WHEN NEW.hash = '{hex_hash}'"
            await stall_writer(node, gate, close)
            node._apply_block = failing_once_after_its_writes  # type: ignore[method-assign]
            block = c.exchange.cancel_order(c.sender(ALICE), resting.order).block_number
            await wait_for(lambda: bool(failed), timeout=20)
            await wait_for(lambda: health_says(api, "failing"), timeout=10)
            code, health = await api.get("/health")
            assert code == 503 and "the store" in health["chainMirror"]["problem"], health
            assert w.applied is not None and w.applied.number < block  # held before it
        finally:
            gate.set()
        await synced(node, c)
        await wait_for(lambda: health_says(api, "ok"), timeout=20)
        stored = node.store.order_now(hex_hash)
        assert stored is not None and stored.status == "cancelled"
        saved = node.store.checkpoint()
        assert saved is not None and saved[0] >= block


async def test_a_cancel_up_to_whose_store_walk_stalls_is_said_on_health(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: a block with a maker's ``cancelOrdersUpTo`` walks that maker's closed
    orders in the store, a page at a time, read on the writer thread inside the block's
    apply (before its writes are awaited under ``store_wait``): a hung writer held the
    watcher there while ``/health`` said ``ok``. Now each page's read is ``durable``:
    ``failing`` after ``Watcher.store_wait``, ``ok`` once the store moves."""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        w = node.watcher
        await synced(node, c)
        w.store_wait = 0.3
        with writer_stuck(node):
            salt = resting.order.salt + 1
            block = c.exchange.cancel_orders_up_to(c.sender(ALICE), salt).block_number
            await wait_for(lambda: health_says(api, "failing"), timeout=10)
            code, health = await api.get("/health")
            assert code == 503 and "the store" in health["chainMirror"]["problem"], health
        await synced(node, c)
        await wait_for(lambda: health_says(api, "ok"), timeout=20)
        assert w.applied is not None and w.applied.number >= block
        stored = node.store.order_now(resting.hash_hex)
        assert stored is not None and stored.status == "cancelled"
