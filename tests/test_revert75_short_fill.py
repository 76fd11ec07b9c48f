"""revert75: a match the chain settled for less than the node proposed is not signed again.

Found by ``bench/chaos52.py --seeds 22`` (base mix; ``/tmp/chaos52-22-xhnp17ky``, node 1): the
bid 0x1e53b6dc was matched against the ask 0xb7f1b913 (nonce 7) while fills of the bid made
elsewhere, two blocks earlier, were not in the node's book yet. The contract took what the
chain had left of the bid (all of it), less than the match; the confirm gave the shortfall back
to both orders, they crossed again at once, and the same pair was signed again (nonce 8) while
nonce 7 was still on its way: reverted ``OrderNotFillable(FILLED)``, the operator's gas paid for
nothing. Seeds 16-19 and 22, every fault mix, showed the same (the pair of a ``mined``
settlement in a ``failed`` one signed 5-414 ms later; ``ZeroFillAmount`` when it was the other
order whose rest ran out). A short fill says the pair cannot trade again: the contract caps
the fill only where one order's rest on chain runs out (all of the resting order, or a rest of
the incoming one that buys not one more unit at the resting price). Now such a pair is barred
at the book's filled amounts (as a pair the contract refused for its amounts) until either
moves, and both orders are looked at again.

Deterministically: the node's watcher is stopped, so the fill made elsewhere (a taker's
``fillOrder`` of most of the ask) never reaches the book; the node matches a bid against the
ask's whole remainder as it knows it. Real Hardhat, a real node, SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid


def rows(db: Path) -> list[tuple[str, str]]:
    """The node's settlements: (pairs, status), by nonce."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        got = conn.execute("SELECT pairs, status FROM settlements ORDER BY nonce, created_at")
        return [(str(p), str(s)) for p, s in got.fetchall()]


async def test_a_pair_settled_short_is_not_matched_again(chain: Chain, tmp_path: Path) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18 // 2, 500 * E6))  # 0.5 WETH at 1000
    taker = c.sign(bid(c, BOB, E18 * 4 // 10, 400 * E6))  # 0.4 WETH at 1000
    # a pair of its own (each restricted to the other: neither trades with the two above),
    # settled after anything the first settlement's confirm matched again
    later = c.sign(ask(c, CAROL, E18 // 10, 100 * E6, taker=c.address(DAVE)))
    later_bid = c.sign(bid(c, DAVE, E18 // 10, 100 * E6, taker=c.address(CAROL)))
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(resting))[0] == 201
        c.rpc.call("evm_mine")
        await synced(node, c)
        watcher = next(t for t in node._tasks if t.get_name() == "watcher")
        watcher.cancel()  # (the fill below never reaches the book)
        await asyncio.wait({watcher}, timeout=10)
        c.exchange.fill_order(c.sender(DAVE), resting, 300 * E6)  # 0.3 WETH of it elsewhere
        code, body = await api.post_taken(taker)
        assert code == 201 and body["matches"], body

        def settled(n: int) -> bool:
            return sum(status == "mined" for _, status in rows(cfg.db)) >= n

        await wait_for(lambda: settled(1), timeout=30)
        assert (await api.post_taken(later))[0] == 201
        assert (await api.post_taken(later_bid))[0] == 201
        await wait_for(lambda: settled(2), timeout=30)
    info = c.exchange.order_info(resting.order)
    assert info.filled == E18 // 2  # the first settlement took its last 0.2 WETH
    got = rows(cfg.db)
    assert [s for _, s in got] == ["mined", "mined"], got  # before: mined, failed, mined
    assert resting.hash_hex.lower() in got[0][0] and later.hash_hex.lower() in got[1][0]


async def test_an_order_settled_short_is_read_from_the_chain(chain: Chain, tmp_path: Path) -> None:
    """The order that ran out on chain is not matched with another order either: chaos52
    seed 22 (base, after the fix above; ``/tmp/chaos52-22-ukwu7q3b``, node 1) had an ask
    taken in part elsewhere in its settlement's block, and its rest, given back by the
    confirm, matched against another bid 17 ms later (skipped ``OrderNotFillable``). The
    orders of a match settled short are read from the chain at once: the ask closes
    ``filled`` (here its block never reaches the book: the watcher is stopped)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18 // 2, 500 * E6))  # 0.5 WETH at 1000
    taker = c.sign(bid(c, BOB, E18 * 4 // 10, 400 * E6))  # 0.4 WETH at 1000
    other = c.sign(bid(c, CAROL, E18 // 10, 100 * E6))  # 0.1 WETH at 1000: rests
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(resting))[0] == 201
        c.rpc.call("evm_mine")
        await synced(node, c)
        watcher = next(t for t in node._tasks if t.get_name() == "watcher")
        watcher.cancel()
        await asyncio.wait({watcher}, timeout=10)
        c.exchange.fill_order(c.sender(DAVE), resting, 300 * E6)
        assert (await api.post_taken(taker))[0] == 201
        await wait_for(lambda: [s for _, s in rows(cfg.db)] == ["mined"], timeout=30)

        async def closed() -> bool:
            code, rec = await api.get(f"/v1/orders/{resting.hash_hex}")
            return code == 200 and rec["metaData"]["status"] == "filled"

        await wait_for(closed, timeout=20)  # before: open, its 0.1 WETH offered for good
        code, body = await api.post_taken(other)
        assert code == 201 and not body["matches"], body
    assert [s for _, s in rows(cfg.db)] == ["mined"]
