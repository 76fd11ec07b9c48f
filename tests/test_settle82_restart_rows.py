"""settle82: a restart's rows judged in nonce order, and a pooled one that would revert
replaced at its nonce.

The store is crafted as a kill leaves it (settle81's: a real ``sdex node`` ran on it and
stopped, then ``pending`` rows written as ``Store.add_settlement`` writes them, signed by the
operator's key at the chain's next nonces); the node is started again on the same store and
chain (real Hardhat).

- A row already pooled (sent before the kill, the chain mining only when told) whose order
  was cancelled on chain since: before, left to land, mined and reverted (the operator
  paying); now replaced at its nonce by a transfer of nothing at higher fees.
- Two rows, the second's maker paid by the first (BOB buys WETH in the first and sells it
  in the second, holding none before): judged each at the latest block, the second reverts
  there, and it was withheld (its matches redone); now judged again once the first is mined,
  and sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_up, wait_for
from tests.rowsatnonce import rows_bob_pays
from tests.test_node import ALICE, BOB, CAROL, DAVE
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import pooling
from tests.test_settle81_unsettled_restart import count, pair, record, signed_match, status_of

pytestmark = pytest.mark.usefixtures("quick_restart_receipts")  # (no receipt till mined)

__all__ = ["pooling"]  # (reconcile77's fixture: the chain mining only when told)


def at_nonce(c: Chain, nonce: int, top: int) -> list[dict[str, str]]:
    """The operator's transactions at ``nonce`` in the blocks up to ``top`` (8 below it)."""
    operator = c.address(OPERATOR).lower()
    return [
        t
        for n in range(max(0, top - 8), top + 1)
        for t in c.rpc.call("eth_getBlockByNumber", hex(n), True)["transactions"]
        if t["from"].lower() == operator and int(t["nonce"], 16) == nonce
    ]


async def test_a_pooled_row_that_would_revert_is_replaced_by_a_transfer_of_nothing(
    pooling: Chain, tmp_path: Path
) -> None:
    """Before: the pooled row was left as it was, mined at the next block and reverted (the
    operator paying its gas): failed 3 of 3."""
    c = pooling
    db = tmp_path / "n.db"
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    async with node_up(c, db, None, OPERATOR):
        pass  # (the store made, the node stopped)
    gone = pair(c, BOB, ALICE, price)
    c.exchange.cancel_order(c.sender(BOB), gone[0].order)  # (mined: the chain automines)
    at = count(c)
    withdrawn = signed_match(c, [gone], at)
    record(db, withdrawn, [gone])
    c.rpc.call("evm_setAutomine", False)
    c.rpc.call("eth_sendRawTransaction", withdrawn.raw)  # (sent before the kill: pooled)
    pending = c.address(OPERATOR), "pending"
    assert quantity(c.rpc.call("eth_getTransactionCount", *pending)) == at + 1
    async with node_up(c, db, None, OPERATOR):

        def dropped() -> bool:
            return status_of(db, withdrawn.tx_hash) == "dropped"

        await wait_for(dropped, timeout=60)
        c.rpc.call("evm_mine")
        top = quantity(c.rpc.call("eth_blockNumber"))
        got = c.rpc.call("eth_getTransactionReceipt", withdrawn.tx_hash)
        assert got is None, f"the pooled row was mined: status {got['status']}"
        assert count(c) == at + 1
        operator = c.address(OPERATOR).lower()
        found = [(t["to"].lower(), t["input"]) for t in at_nonce(c, at, top)]
        assert found == [(operator, "0x")], found


async def test_a_row_whose_maker_the_row_before_pays_is_sent_once_that_one_is_mined(
    chain: Chain, tmp_path: Path
) -> None:
    """Before: the second row was judged at the latest block, before the first was mined
    (BOB held no WETH there): withheld, ``dropped``, never sent: failed 3 of 3."""
    c = chain
    db = tmp_path / "n.db"
    one, two = await rows_bob_pays(c, db)
    async with node_up(c, db, None, OPERATOR):

        def judged() -> bool:
            return status_of(db, two.tx_hash) != "pending"

        await wait_for(judged, timeout=60)
        assert status_of(db, one.tx_hash) == "mined"
        assert status_of(db, two.tx_hash) == "mined", status_of(db, two.tx_hash)
        got = c.rpc.call("eth_getTransactionReceipt", two.tx_hash)
        assert got is not None and int(got["status"], 16) == 1, got
        assert c.weth.balance_of(c.address(BOB)) == 0  # (bought, then sold)


@pytest.mark.parametrize("second", ["paid by the first", "its order cancelled"])
async def test_a_row_behind_a_pooled_one_is_withheld_only_if_that_one_cannot_pay_it(
    pooling: Chain, tmp_path: Path, second: str
) -> None:
    """The first row pooled (sent before the kill), the chain mining only when told: the
    second, reverting at the latest block, is sent when the first pays its maker what it
    sells (before, withheld: failed 3 of 3), and withheld when the first cannot make it
    settle (an order of it cancelled on chain: sent as it was, mined and reverted, with
    this commit's first version, failed 3 of 3)."""
    c = pooling
    db = tmp_path / "n.db"
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    async with node_up(c, db, None, OPERATOR):
        pass  # (the store made, the node stopped)
    first = pair(c, BOB, ALICE, price)  # (BOB's bid resting: he gets 0.1 WETH)
    if second == "paid by the first":
        held = c.weth.balance_of(c.address(BOB))
        if held:  # (BOB sells in the second row what the first buys him)
            c.weth.transfer(c.sender(BOB), c.address(DAVE), held)
        then = pair(c, CAROL, BOB, price)
    else:
        then = pair(c, CAROL, DAVE, price)
        c.exchange.cancel_order(c.sender(CAROL), then[0].order)
    at = count(c)
    one, two = signed_match(c, [first], at), signed_match(c, [then], at + 1)
    record(db, one, [first])
    record(db, two, [then])
    c.rpc.call("evm_setAutomine", False)
    c.rpc.call("eth_sendRawTransaction", one.raw)  # (sent before the kill: pooled)
    async with node_up(c, db, None, OPERATOR):
        if second == "its order cancelled":

            def dropped() -> bool:
                return status_of(db, two.tx_hash) == "dropped"

            await wait_for(dropped, timeout=60)
        c.rpc.call("evm_mine")

        def mined() -> bool:
            return c.rpc.call("eth_getTransactionReceipt", one.tx_hash) is not None

        await wait_for(mined, timeout=30)
        c.rpc.call("evm_mine")  # (the second, if sent)
        got = c.rpc.call("eth_getTransactionReceipt", two.tx_hash)
        if second == "paid by the first":
            assert got is not None and int(got["status"], 16) == 1, got
        else:
            assert got is None, f"the second row was mined: status {got['status']}"
