"""review81: a pending settlement a start in a chain doubt gave up unread is never sent again
by the next start.

The lead's ``mark_unread`` (after doubt80) keeps such a row (adopted unread, then not
adoptable: its orders no longer open) ``pending``, raw bytes and all, till the chain is
proven ours, to mark it as its receipt says. A node stopped (or killed) while the doubt
stands left it so, and the next start's reconcile, in no doubt, sent those bytes again: the
order that closed it cancelled on chain, mined and reverted, the operator paid for a
settlement the node had given up. Now the row is dropped at once, as before doubt80 (its bytes
never sent again), and ``mark_unread`` still marks it as its receipt says once the chain is
proven ours.

Real Hardhat, a real node and SQLite store, a real proxy on loopback (``tests/rpcfault.py``)
answering the saved head's block with another hash at the start's first read and at every
read after the second (the doubt said at the start, and said again at each poll's look)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, saved_head, wait_for
from tests.rpcfault import Answer, _forward, _proxy
from tests.test_node import ALICE
from tests.test_reorg63_replaced_restart import FEES, OPERATOR, stored_pair
from tests.test_review73_reset_start import _statuses

WRONG = "0x" + "ef" * 32


@contextmanager
def doubting_proxy(upstream: str, number: int) -> Iterator[str]:
    """A proxy to ``upstream`` answering block ``number`` (asked alone) with ``WRONG`` for
    its hash at the first ask and at every ask after the second (the second: ours)."""
    asked = [0]

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_getBlockByNumber":
            return None
        if (req.get("params") or [None])[0] != hex(number):
            return None
        asked[0] += 1
        if asked[0] == 2:
            return None
        status, body = _forward(upstream, req)
        answer = json.loads(body)
        if isinstance(answer.get("result"), dict):
            answer["result"]["hash"] = WRONG
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url


async def test_a_row_given_up_unread_in_a_doubt_is_not_sent_at_the_next_start(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    async with running_node(cfg):  # (a saved head for the next start to check)
        top = quantity(c.rpc.call("eth_blockNumber"))
        await wait_for(lambda: saved_head(cfg.db) >= top, timeout=30)
    head = saved_head(cfg.db)
    # a previous run's settlement of two open orders, recorded, its bytes never sent (killed
    # before its broadcast); the resting order cancelled on chain since
    cfg, store, resting, incoming, data = stored_pair(c, tmp_path)
    operator = c.sender(OPERATOR)
    tx = operator.sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    c.exchange.cancel_order(c.sender(ALICE), resting.order)  # (the resting ask's maker)
    count = quantity(c.rpc.call("eth_getTransactionCount", operator.address, "latest"))
    assert count == tx.nonce
    with doubting_proxy(c.rpc.url, head) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            assert node.mirror.doubt.why  # (the start in doubt)
            assert tx.tx_hash in node._unmarked  # (adopted unread, not adoptable: given up)
            assert node.mirror.doubt.why  # (still: stopped in it)
    async with running_node(cfg):  # (no doubt: reconcile's resend, if pending; then marked)
        await wait_for(lambda: _statuses(cfg.db) != ["pending"], timeout=30)
    # before: the row pending at the stop, the next start sent its bytes: mined and
    # reverted (its resting order cancelled on chain), the operator paid
    again = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
    assert again is None, f"the given-up bytes were sent at the next start: {again['status']}"
    assert quantity(c.rpc.call("eth_getTransactionCount", operator.address, "latest")) == count
    assert _statuses(cfg.db) == ["dropped"]
