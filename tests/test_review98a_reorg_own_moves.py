"""review98a: an own settlement the watcher moved by its amounts on a branch a reorg undid, then
mined again on the new branch, is not moved by them a second time, and a confirm while the
reorg's poll still re-reads the undone accounts does not give the book that figure.

``Mirror.undo_to`` does not take funds back (the undone accounts are re-read at the poll's
end), so they still hold the old branch's figures; settle98 moves an own settlement's
``Transfer`` logs the watcher reads by their amounts (``own_transfer``): the same signed
settlement mined again on the new branch moved them once more (Carol's USDC credited twice).
Its receipt, confirmed in that window, set the makers' funds from the mirror
(``_watcher_was_first``: its block below the old branch's head, ``_funds_taken_at``): the
book showed Carol 3,000 USDC she does not have until the poll's re-reads came back.

Real Hardhat (``evm_snapshot`` / ``evm_revert``, the raw settlement sent again), a real node
in this process; its receipt reads held until the reorg's poll re-reads funds, those held
until the receipt is confirmed (as settle98's test holds them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.reorgfunds import carol_both_sides, held_funds_reads
from tests.reorgutil import raw_tx_of
from tests.rpcfault import Answer, _proxy
from tests.test_mirror import revert, synced
from tests.test_node import BOB, E6, E18, bid
from tests.test_settle98_funds_reread import head, spendable
from tests.test_settlement_pipeline import post_all

RECEIPTS = ("eth_getTransactionReceipt", "eth_getBlockReceipts")


@contextmanager
def receipts_held(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` that holds every request reading a receipt while
    the event it gives is set (90 s at most)."""
    armed = threading.Event()

    def intercept(req: object) -> Answer | None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        if any(c.get("method") in RECEIPTS for c in calls):
            deadline = time.monotonic() + 90
            while armed.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)
        return None

    with _proxy(upstream, intercept) as url:
        yield url, armed


async def test_an_own_settlement_mined_again_after_a_reorg_is_not_moved_twice(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with receipts_held(c.deployment.rpc) as (url, receipts):
        async with running_node(node_config(c, tmp_path / "n.db", rpc=url)) as (node, api):
            await reorged_twice(c, node, api, receipts)


async def reorged_twice(c: Chain, node: Node, api: Api, receipts: threading.Event) -> None:
    # Carol sells WETH and (far below) buys it: the book holds her USDC too
    paid, got, snap, start = await carol_both_sides(c, node, api)

    reads, go_reads, reading = held_funds_reads(node)
    receipts.set()
    try:
        await post_all(api, [c.sign(bid(c, BOB, E18, 3000 * E6))])
        await wait_for(lambda: head(c) == start + 1, timeout=60)
        (tx,) = node.mirror.expected  # (sent, its receipt held)
        raw = raw_tx_of(c, tx)
        await synced(node, c)  # (the watcher read its block: moved by the amounts)
        assert node.settler.settled == 0
        before = spendable(c, got)
        assert node.mirror.spendable(got) == before
        reads.set()
        revert(c, snap)
        c.rpc.call("eth_sendRawTransaction", raw)  # (the same settlement, mined again)
        c.rpc.call("evm_mine")  # (the new branch the longer)
        assert spendable(c, got) == before  # (the chain: credited once)
        await wait_for(reading.is_set, timeout=60)  # (the reorg's poll re-reads funds)
        assert node.watcher.reorgs == 1
        receipts.clear()  # (confirmed now: the watcher read its block)
        await wait_for(lambda: node.settler.settled == 1, timeout=60)
        assert not go_reads.is_set()  # (the reorg's poll not applied yet)
        assert node.book.funds(*got) == before  # (was 3,000 USDC more)
        # the mirror: the new branch's own transfer not moved on top of the old one's
        assert node.mirror.spendable(got) == before
        assert node.book.funds(*paid) <= spendable(c, paid)
    finally:
        receipts.clear()
        go_reads.set()
    await synced(node, c)
    await wait_for(lambda: node.mirror.spendable(got) == spendable(c, got), timeout=60)
    for account in (paid, got):
        assert node.mirror.spendable(account) == spendable(c, account)
        assert node.book.funds(*account) == spendable(c, account)
