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
past the chain's; connections opened since reach the chain."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle89_sticky_receipt import Said, sticky_balancer

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
    async with sticky_balancer(c.rpc.url) as b:
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=b.url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            operator = node.sender.address
            assert (await api.post_order(maker))[0] == 201
            c.rpc.call("evm_setAutomine", False)
            count = nonce(c.rpc, operator)
            code, body = await api.post_order(taker)
            assert code == 201 and len(body["matches"]) == 1, body
            await wait_for(lambda: nonce(c.rpc, operator, "pending") > count, timeout=30)

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
            c.rpc.call("evm_mine")  # (the pooled one; before, the one matched again too)

            async def filled() -> bool:
                return await api.status(maker) == "filled" and not s.in_flight

            await wait_for(filled, timeout=30)
            assert nonce(c.rpc, operator) == count + 1  # (before: + 2, a paid revert)
            assert (s.sent, s.lost, s.failed) == (1, 0, 0), (s.sent, s.lost, s.failed)
    assert c.exchange.order_info(maker.order).filled == E18
    assert c.exchange.order_info(taker.order).filled == 3000 * E6
