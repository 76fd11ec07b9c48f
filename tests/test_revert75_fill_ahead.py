"""revert75: a fill made elsewhere reaches the book while an own settlement of the same order
is ahead of the mirror (its receipt in, its block not applied yet).

Found by ``bench/chaos52.py --seeds 19`` (base mix; ``/tmp/chaos52-19-a04oyi59``, node 2): the
ask 0x4b666162 (0.4 WETH at 1003) was filled by another node in block 89 and by node 2 in
block 90. Node 2 had block 90's receipt (its fills stored first: seq 13-14, block 89's seq 17)
when its watcher applied block 89; the ask was then "ahead" (``Mirror.ahead``: an own receipt
of a block the mirror has not applied), and the node takes nothing of an order ahead from the
mirror, whose word is older than the confirm. So block 89's fill stayed out of the book until
block 90 was applied; meanwhile a bid at the ask's very limit was matched against the rest
as the book had it: the contract took the smaller rest the chain had, not whole units of the
ask's price, and its rounding broke the bid's limit (``PricesDoNotCross``, tx 0x5fd0306d,
the operator's gas paid for nothing). Now such an order takes the mirror's filled amount plus
the own fills ahead of it (their receipts decoded) where that is more than the book's.

Deterministically: the node's watcher is stopped, another account fills part of the ask
(block N), the node settles a bid against it (block N+1, its receipt confirmed), then the
watcher applies block N alone (a poll of the chain with block N announced as its head): the
book must have both fills. Then a bid at the ask's limit settles (before: ``PricesDoNotCross``).
The seed's own amounts. Real Hardhat, a real node, SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sdex.mirror import Header
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, DAVE, E18, ask, bid


def statuses(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        got = conn.execute("SELECT status FROM settlements ORDER BY nonce, created_at")
        return [str(s) for (s,) in got.fetchall()]


async def test_a_fill_elsewhere_counts_in_an_order_ahead_of_the_mirror(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, 4 * E18 // 10, 401_200_000))  # 0.4 WETH at 1003
    first = c.sign(bid(c, BOB, E18 // 10, 101_000_000))  # 0.1 WETH at 1010
    at_limit = c.sign(bid(c, CAROL, 3 * E18 // 10, 300_900_000))  # 0.3 WETH at 1003
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(resting))[0] == 201
        c.rpc.call("evm_mine")
        await synced(node, c)
        watcher = node.watcher
        task = next(t for t in node._tasks if t.get_name() == "watcher")
        task.cancel()  # (polled by hand below)
        await asyncio.wait({task}, timeout=10)
        elsewhere = c.exchange.fill_order(c.sender(DAVE), resting, 104_000_000)  # block N
        code, body = await api.post_taken(first)
        assert code == 201 and body["matches"], body
        await wait_for(lambda: statuses(cfg.db) == ["mined"], timeout=30)  # block N+1
        on_chain = c.exchange.order_info(resting.order).filled
        raw = c.rpc.call("eth_getBlockByNumber", hex(elsewhere.block_number), False)
        watcher._notified = Header.from_rpc(raw)  # block N announced: applied alone
        assert await watcher.poll_once()
        assert watcher.applied is not None
        assert watcher.applied.number == elsewhere.block_number
        e = node.book.find(resting.hash)
        assert e is not None and e.filled == on_chain, (e and e.filled, on_chain)
        code, body = await api.post_taken(at_limit)
        assert code == 201 and body["matches"], body

        def done() -> bool:
            got = statuses(cfg.db)
            return len(got) >= 2 and "pending" not in got

        await wait_for(done, timeout=30)
    assert statuses(cfg.db) == ["mined", "mined"]  # before: mined, failed (then mined)
