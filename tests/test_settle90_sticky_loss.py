"""settle90 (left41, "Settlement"): a settlement in flight is counted lost only when two
answers, ``LOST_RECHECK`` apart, give the operator's count past its nonce with no receipt
(``receipts.poll_receipt``'s ``_judged``; lost78, reconcile77); the second now goes on a
connection of its own (``sdex.chain.apart``), as settle89's receipt of a start's transfer.

Before, both went through the node's pooled client. A balancer that pins each kept-alive
connection to one backend (sticky sessions) answered both from the backend it had placed
them on: one that lies (or follows another chain, or counts a transaction another backend
mined) said the nonce taken twice, the pooled settlement was counted lost, its orders
matched again at the next nonce, and both were mined (the second a paid revert).

Real Hardhat mining only when told (the settlement pools); a real node and SQLite store
behind settle89's real loopback balancer (aiohttp, keep-alive) whose connections open once
the settlement pooled are pinned to a backend that answers the operator's latest count one
past the chain's; connections opened since reach the chain.

So at a restart (``reconcile.Reconciler._unspent``, review79's rule: a row neither mined nor
pooled by the answers given up only when its nonce is said taken twice): a real ``sdex node``
killed by its PID with the settlement pooled, the restart in this process behind the
balancer, the row unknown by hash to every connection (a backend that lags the one that
pooled it), the count with its receipt lied on the connections open at the first such ask.
Before, the row was given up, its orders matched again at the next nonce.

And at a send answered "nonce too low" (``BatchTx.chain_knows``, doubt78's rule: its matches
signed again only when two asks say its hash unknown and the count past it): the node's
settler (suite's Hardhat, mining on the send) behind the balancer, the send taken by the
chain and answered "nonce too low", the hash answered unknown on the connections open at
the first such ask. Before, its matches were signed again at the next nonce, mined behind
it and reverted (the operator paying)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.chain import Rpc
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_count77_lied_count import counts
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import (
    mined_and_filled,
    pending_rows,
    pooled_and_killed,
    pooling,
    settled_once,
)
from tests.test_settle81_unsettled_restart import status_of
from tests.test_settle89_sticky_receipt import (
    Said,
    Sticky,
    liar_at_first_ask,
    pooled_behind_sticky,
    sticky_balancer,
)
from tests.test_settlement_fallback import pair, running_settler

__all__ = ["pooling"]

LIES = 4
"""Lies told before the test looks: two made a loss before (the second read's)."""


async def test_a_sticky_backends_count_twice_counts_no_pooled_settlement_lost(
    pooling: Chain, tmp_path: Path
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))  # (gtc: given back, it is matched again)
    lies: list[int] = []
    pinned: set[int] = set()
    async with pooled_behind_sticky(c, tmp_path, maker, taker) as (b, node, api, count):
        s = node.settler
        operator = node.sender.address

        def answer(call: object, port: int) -> Said:  # (the count past its nonce)
            if port not in pinned or not isinstance(call, dict):
                return None
            if call.get("method") != "eth_getTransactionCount":
                return None
            if call.get("params") != [operator, "latest"]:
                return None
            lies.append(port)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": hex(count + 1)}

        pinned.update(b.ports)  # (the connections open now: the lying backend's)
        b.answer = answer
        # before: the count told twice on a pinned connection, counted lost, matched
        # again, sent at the next nonce
        await wait_for(lambda: len(lies) >= LIES or s.lost > 0, timeout=60)
        assert s.lost == 0 and s.sent == 1, (s.lost, s.sent, lies)
        pinned.clear()  # (the lying backend out of the balancer)
        await settled_once(c, node, api, maker, taker, count)  # (before: 2 sent, a revert)


async def test_a_sticky_backends_count_twice_gives_no_row_up_at_a_restart(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    maker, count = await pooled_and_killed(c, db, None)
    [row] = pending_rows(db)
    lies: list[int] = []
    pinned: set[int] = set()
    lying = [True]
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    async with sticky_balancer(c.rpc.url) as b:

        def answer(call: object, port: int) -> Said:
            if not lying[0] or not isinstance(call, dict):
                return None
            method, params = call.get("method"), call.get("params")
            if method == "eth_getTransactionByHash" and params == [row]:  # (lags: unknown)
                return {"jsonrpc": "2.0", "id": call.get("id"), "result": None}
            if method == "eth_getTransactionReceipt" and params == [row] and not pinned:
                pinned.update(b.ports)  # (the connections open at the first ask: the liar's)
            if method != "eth_getTransactionCount" or port not in pinned:
                return None
            if not isinstance(params, list) or params[1:] != ["latest"]:
                return None
            lies.append(port)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": hex(count + 1)}

        b.answer = answer
        cfg = replace(node_config(c, db), rpc=b.url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            # before: the count told twice on a pinned connection: the row given up at the
            # start (``dropped``), its orders matched again, sent at the next nonce
            assert lies, "the lie not told"
            assert s.adopted == 1 and status_of(db, row) != "dropped", (s.adopted, lies)
            lying[0] = False  # (the lying backend out of the balancer)
            pinned.clear()
            await wait_for(lambda: row in s.in_flight and not s.sends, timeout=30)
            await mined_and_filled(c, node, api, maker, count)
    assert c.exchange.order_info(maker.order).filled == E18


@contextmanager
def sticky_in_a_thread(upstream: str) -> Iterator[Sticky]:
    """settle89's ``sticky_balancer`` served by an event loop of its own thread (the
    settler's parts read the chain synchronously from the test's loop)."""
    ready: queue.Queue[Sticky] = queue.Queue()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with sticky_balancer(upstream) as b:
            ready.put(b)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        yield ready.get(timeout=30)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()


async def test_a_sticky_backends_unknown_hash_twice_signs_nothing_again(
    chain: Chain, tmp_path: Path
) -> None:
    refused: list[str] = []
    lies: list[int] = []
    with sticky_in_a_thread(chain.rpc.url) as b:  # (the settler's start reads are sync)

        def unknown(call: dict[str, Any]) -> bool:
            return call.get("method") == "eth_getTransactionByHash" and (
                call.get("params") == refused[:1]
            )

        liar = liar_at_first_ask(b, unknown, None, lies)

        def answer(call: object, port: int) -> Said:
            if not isinstance(call, dict):
                return None
            method, params = call.get("method"), call.get("params")
            if method == "eth_sendRawTransaction" and not refused and isinstance(params, list):
                refused.append(chain.rpc.call(method, *params))  # (taken all the same)
                error = {"code": -32000, "message": "nonce too low"}
                return {"jsonrpc": "2.0", "id": call.get("id"), "error": error}
            return liar(call, port)

        b.answer = answer
        c = chain_of(Rpc(b.url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            operator = s.sender.address
            before = counts(chain, operator)
            m = pair(c, 0)
            s.submit([m])
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 30)
            assert len(refused) == 1 and lies, (refused, lies)
            # before: both asks on a pinned connection: signed again, mined, reverted
            assert s.nonce_refusals == 0, (s.nonce_refusals, lies)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            assert counts(chain, operator) == (before[0] + 1,) * 2
            assert chain.exchange.order_info(m.resting.order).filled == m.amounts.left_filled
