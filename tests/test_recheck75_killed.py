"""recheck75: an order due a recheck when its node is killed is judged again at the restart.

chaos62's second case (``test_chaos62_stale_in_flight``): ALICE's ask matched twice, mining
paused; DAVE fills a fifth of it and ALICE cancels it on chain, first in the block; both of
the node's settlements revert. The order is closed ``cancelled`` while the second of its
matches is still in flight, at the book's filled amount, and is due a recheck
(``Node._recheck``): once nothing of it is in flight, it takes the chain's filled amount.
That list was held in memory only: a node SIGKILLed before then restarted with the order
closed at the book's amount for good (a start reloads the open orders only; the blocks since
the saved head do not judge a closed one again), ``cancelled`` at 0 where the chain had 0.02
filled. Now its rows are kept in the store (``rechecks``) and a start judges them again once
it has caught up (``NodeVerdicts._recheck_stored``).

The kill's moment, deterministically: the node runs through a proxy that holds the second
settlement's receipt (its match stays in flight), and is killed by its PID once the watcher
has saved its head past the block and the order's close is committed. Real Hardhat, a real
``sdex node`` process, SQLite; the restart in this process."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sdex.keccak import keccak
from tests.conftest import Chain
from tests.nodeutil import node_config, node_up, running_node, saved_head, wait_for
from tests.rpcfault import _proxy
from tests.sandwich import GWEI, send_tx
from tests.test_api_writes import refuse
from tests.test_chaos62_stale_in_flight import fill_all_but, fill_and_cancel, two_in_flight
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, E6, E18, ask
from tests.test_node_restart import OPERATOR


@contextmanager
def second_receipt_held(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` that holds every receipt request for a transaction
    the node sent after its first (its match stays in flight), and the event it sets when it
    holds one. Released at exit."""
    sent: list[str] = []
    held, release = threading.Event(), threading.Event()

    def intercept(req: object) -> None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        asked: list[object] = []
        for call in calls:
            params = call.get("params") or [None]
            if call.get("method") == "eth_sendRawTransaction" and isinstance(params[0], str):
                tx = "0x" + keccak(bytes.fromhex(params[0][2:])).hex()
                if tx not in sent:  # (the same bytes may be sent twice)
                    sent.append(tx)
            elif call.get("method") == "eth_getTransactionReceipt":
                asked.append(params[0])
        sends = any(c.get("method") == "eth_sendRawTransaction" for c in calls)
        if not sends and any(tx in sent[1:] for tx in asked):  # (a send's batch goes on)
            held.set()
            release.wait(60)

    with _proxy(upstream, intercept) as url:
        try:
            yield url, held
        finally:
            release.set()


def saved_past(db: Path, number: int, order: str) -> bool:
    """The watcher saved its head at ``number`` or above, and ``order``'s row is closed."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT status FROM orders WHERE hash=?", (order,)).fetchone()
    return row == ("cancelled",) and saved_head(db) >= number


async def test_an_order_due_a_recheck_at_a_kill_takes_the_chains_filled_amount_at_restart(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    with second_receipt_held(c.deployment.rpc) as (url, held):
        async with node_up(c, db, url, OPERATOR) as (proc, api):
            await two_in_flight(c, api, sell, fill_and_cancel(c, sell))
            mined = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(held.is_set, timeout=30)
            order = sell.hash_hex.lower()
            await wait_for(lambda: saved_past(db, mined, order), timeout=30)
            assert (await meta(api, sell))["filledMakerAmount"] == "0"  # (the book's)
            proc.kill()  # (SIGKILL, by its PID: the second match still in flight)
            proc.wait(timeout=10)
    assert c.exchange.order_info(sell.order).filled == E18 // 50

    async with running_node(node_config(c, db)) as (node, api):
        c.rpc.call("evm_mine")  # (a block past the saved head, for ``synced``)
        await synced(node, c)

        async def judged_again() -> bool:  # before: "cancelled" at 0, for good
            m = await meta(api, sell)
            return (m["status"], m["filledMakerAmount"]) == ("cancelled", str(E18 // 50))

        await wait_for(judged_again, timeout=20)
    with sqlite3.connect(db) as conn:  # (done: not judged again at the next start)
        assert conn.execute("SELECT COUNT(*) FROM rechecks").fetchone() == (0,)


async def test_the_head_is_not_saved_past_a_block_before_its_rechecks_rows(
    chain: Chain, tmp_path: Path
) -> None:
    """The same two matches in flight, the second's receipt held, while a real SQLite trigger
    refuses every ``rechecks`` row: the watcher does not save its head past the block until
    the row is written (before: saved at once, the row refused, and a kill then lost it)."""
    c = chain
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    with second_receipt_held(c.rpc.url) as (url, held):
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=url)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            await refuse(
                node,
                "CREATE TRIGGER no_recheck BEFORE INSERT ON rechecks"
                " BEGIN SELECT RAISE(ABORT, 'refused here'); END",
            )

            def pool() -> None:  # (fill_and_cancel's, its pool not counted)
                fill_all_but(c, sell, E18 // 10 - E18 // 50)
                data = c.exchange.abi.fn("cancelOrder").encode(sell.order.to_tuple())
                send_tx(c, ALICE, c.exchange.address, data, 200_000, 40 * GWEI)

            await two_in_flight(c, api, sell, pool)
            mined = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(held.is_set, timeout=30)
            w = node.watcher
            await wait_for(lambda: w.saved >= mined or w.failures > 0, timeout=30)
            assert w.saved < mined  # (before: saved, the row refused)
            await refuse(node, "DROP TRIGGER no_recheck")
            await wait_for(lambda: w.saved >= mined, timeout=30)
            with sqlite3.connect(f"file:{cfg.db}?mode=ro", uri=True) as conn:
                rows = conn.execute("SELECT order_hash FROM rechecks").fetchall()
            assert rows == [(sell.hash_hex.lower(),)]
