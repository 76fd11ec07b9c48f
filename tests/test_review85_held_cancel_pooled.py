"""review85: a wallet's soft cancel during a start's hold (doubt83) of an order a pooled
settlement of the previous run names.

A start that holds (in a chain doubt, its stored orders not read at our head) serves wallets
before it adopts what the last run left pooled (``_judge_held`` adopts it once the orders are
read). A start that does not hold adopts before it serves: the row's orders held in flight,
a later soft cancel leaves the row to land (by design). Here the maker's soft cancel comes
during the hold: the row's order is closed and out of the book when ``_adopt`` looks, the row
is not adopted (given up), its other order is open and unheld in the book, matched again at
the next nonce while the pooled row is still in the chain's pool: both mined, the later one
reverts, paid. Real chain of the suite's engine (mining paused: the row pooled), a real node
on its SQLite store stopped and started again behind real loopback proxies: two
``flapping_proxy`` (the start's check of the saved head: a doubt) and one refusing reads by
block hash and the orders' reads at "latest" till the test opens it (the hold stands)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.order import sign_hash
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.heldstart import first_run, held_reads, left_row, mining_paused, states_selector
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.test_node import ALICE, CAROL, E6, E18, ask
from tests.test_review66_adopt_landed import OPERATOR

pytestmark = pytest.mark.usefixtures("quick_doubt_reads")  # (the hold, not the start's tries)


async def test_a_soft_cancel_during_the_hold_leaves_no_pooled_row_to_revert_a_later_one(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled settlement of ALICE's ask and BOB's bid (the whole of each) left by the last run;
    the start holds; ALICE soft-cancels her ask meanwhile; the hold ends and CAROL's ask
    crosses BOB's bid. The cancel is refused 503 (try again) till the row is adopted, then
    taken; once the pool is mined, no settlement of the operator reverted (before: the pair
    matched again at the next nonce reverted behind the pooled row), BOB's bid is filled by
    the row alone, CAROL's ask rests."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    head = await first_run(c, cfg, 8501)
    resting, incoming, tx = await left_row(c, cfg, 1, 8502)  # (the whole of each)
    with mining_paused(c):
        c.rpc.call("eth_sendRawTransaction", tx.raw)  # (pooled: the last run's)
        with held_reads(c.rpc.url, head, states_selector(c, resting)) as (url, gate, doubts):
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                s = node.settler
                assert doubts == ([1], [1])
                assert node.held_why() and await api.status(resting) == "open"
                sig = "0x" + sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE]).hex()
                cancel = f"/v1/orders/{resting.hash_hex}/cancel"
                code, body = await api.post(cancel, {"signature": sig})  # (during the hold)
                assert code in (200, 503), body  # (503: try again, the row not adopted yet)
                gate.set()
                await wait_for(lambda: not node.held_why(), timeout=60)
                if code == 503:
                    assert body["rejection"] == "CHAIN_UNAVAILABLE", body
                    await soft_cancel(c, api, resting, ALICE)  # (tried again: taken)
                assert await api.status(resting) == "cancelled"
                crossing = c.sign(ask(c, CAROL, E18, 3000 * E6, salt=8504))
                assert (await api.post_order(crossing))[0] == 201

                def sent() -> bool:  # (the pair matched again and sent, or the row adopted)
                    return s.sent >= 1 or s.adopted >= 1

                await wait_for(sent, timeout=60)  # (the pool not mined yet)

                async def settled_all() -> bool:
                    c.rpc.call("evm_mine")
                    return s.idle.is_set() and not s.in_flight

                await wait_for(settled_all, timeout=60)
                landed = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
                assert landed is not None and int(landed["status"], 16) == 1
                assert s.failed == 0, (s.failed, s.sent, s.adopted)  # (before: 1, paid)
                assert c.exchange.order_info(incoming.order).filled == 3000 * E6
                assert await api.status(incoming) == "filled"
                assert await api.status(crossing) == "open"
    with sqlite3.connect(cfg.db) as conn:
        rows = conn.execute("SELECT tx_hash, status FROM settlements").fetchall()
    assert all(status != "failed" for _, status in rows), rows
