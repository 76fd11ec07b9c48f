"""settle83 (review of 82f9933c as an attacker): a pooled row that ``replace_pooled`` replaced
by a transfer of nothing is kept pending and awaited (82f9933c), so it sits in the start's
``Reconcile.pooled``, the rows "left to land" that ``_paid_below`` takes as paying the makers
of the rows above it. But a transfer was sent to take its nonce: it is not meant to land,
and it reverts if it does. A row above it that reverts at the latest block and whose maker
that row pays was then sent as it is (before 82f9933c: withheld): mined after the transfer,
it reverted, the operator paying.

Real Hardhat mining only when told; a real ``sdex node`` process made the store and stopped;
two rows written as ``Store.add_settlement`` writes them: the first (BOB buys WETH) sent and
pooled, BOB's order of it cancelled on chain before (it reverts now); the second (BOB sells
that WETH, which he does not hold) recorded, never sent. The restart runs in this process."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, node_up, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import pooling
from tests.test_settle81_unsettled_restart import count, pair, record, signed_match, status_of

__all__ = ["pooling"]


async def test_a_row_paid_only_by_a_replaced_row_below_is_not_sent_to_revert(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the second row sent at the restart, mined behind the transfer and reverted
    (failed 3 of 3)."""
    c = pooling
    db = tmp_path / "n.db"
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    async with node_up(c, db, None, OPERATOR):
        pass  # (the store made, the node stopped)
    if held := c.weth.balance_of(c.address(BOB)):  # (BOB holds no WETH: the first buys it)
        c.weth.transfer(c.sender(BOB), c.address(DAVE), held)
    first = pair(c, BOB, ALICE, price)
    second = pair(c, CAROL, BOB, price)  # (BOB sells the WETH the first buys him)
    at = count(c)
    one, two = signed_match(c, [first], at), signed_match(c, [second], at + 1)
    record(db, one, [first])
    record(db, two, [second])
    c.exchange.cancel_order(c.sender(BOB), first[0].order)  # (the first reverts now)
    c.rpc.call("evm_setAutomine", False)
    c.rpc.call("eth_sendRawTransaction", one.raw)  # (sent before the kill: pooled)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    async with running_node(replace(node_config(c, db), rpc=c.rpc.url)) as (node, _):
        replaced = c.rpc.call("eth_getTransactionByHash", one.tx_hash)
        assert replaced is None, "the first not replaced: the case is not set up"

        def judged() -> bool:
            return status_of(db, two.tx_hash) != "pending" or node.settler.adopted >= 1

        await wait_for(judged, timeout=60)
        c.rpc.call("evm_mine")  # (the transfer at the first's nonce, and what is pooled)
        got = c.rpc.call("eth_getTransactionReceipt", two.tx_hash)
        assert got is None or int(got["status"], 16) == 1, "sent, mined and reverted (paid)"
        assert quantity(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR))) >= at + 1
