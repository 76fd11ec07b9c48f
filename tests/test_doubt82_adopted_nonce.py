"""doubt82: the lane's next nonce is past every row a start adopted that is still in flight.

The lane reads its next nonce from the chain's pending count. Hardhat leaves out of that count
a pooled transaction whose fee cap is below the next block's base fee: a settlement a previous
run left pooled, adopted at the start, was not counted, and the lane signed its next
settlement at the adopted row's nonce, refused as underpriced (or replacing it), and the
cancel then sent at that nonce could displace the adopted settlement. Real Hardhat (mining
only when told, the next base fee raised over the pooled row's cap), a real node in this
process with its SQLite store."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_review66_adopt_landed import FEES, OPERATOR

pytestmark = pytest.mark.usefixtures("quick_restart_receipts")  # (no receipt till mined)

__all__ = ["pooling"]  # (reconcile77's fixture: the chain mining only when told)
GWEI = 10**9


def nonces(db: Path) -> dict[str, int]:
    """``db``'s settlement rows' nonces, by transaction hash."""
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT tx_hash, nonce FROM settlements").fetchall())


async def test_a_new_settlement_is_signed_past_an_adopted_row_the_count_leaves_out(
    pooling: Chain, tmp_path: Path
) -> None:
    """A settlement of two stored orders in full, pooled at a fee cap below the next base
    fee (Hardhat's pending count leaves it out), and a crossing pair stored beside them; the
    start adopts the pooled row and matches the pair. The pair's settlement is signed at the
    next nonce past the adopted row's (before: at the adopted row's own); once the base fee
    falls both land, nothing lost, every order filled on chain."""
    c = pooling
    c.rpc.call("evm_setAutomine", False)
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    operator = c.address(OPERATOR)
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
    seller = c.sign(ask(c, CAROL, E18, 3000 * E6))
    buyer = c.sign(bid(c, DAVE, E18, 3000 * E6))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    for seq, so in enumerate((resting, incoming, seller, buyer), 1):
        store.add_order(so, seq, "open", "api")
    data = c.exchange.encode_settlement([(resting, incoming, 2 * E18)])
    tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)  # (cap 3 gwei)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    was = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    try:
        c.rpc.call("eth_sendRawTransaction", tx.raw)  # (pooled: mining paused)
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(5 * GWEI))  # (over its cap)
        count = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
        assert count == tx.nonce  # (the pending count leaves the pooled row out)
        async with running_node(cfg) as (node, api):
            s = node.settler
            assert s.adopted == 1 and tx.tx_hash in s.in_flight
            await wait_for(lambda: len(nonces(cfg.db)) == 2, timeout=60)  # (the pair's)
            (other,) = (n for t, n in nonces(cfg.db).items() if t != tx.tx_hash)
            assert other == tx.nonce + 1, (other, tx.nonce)  # (before: the adopted one's)
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(min(was, GWEI)))

            async def settled() -> bool:
                c.rpc.call("evm_mine")  # (a block a look: what is pooled lands)
                statuses = {await api.status(so) for so in (resting, incoming, seller, buyer)}
                return statuses == {"filled"} and not s.in_flight

            await wait_for(settled, timeout=60)
            assert s.lost == 0 and s.failed == 0, (s.lost, s.failed)
        assert c.exchange.order_info(resting.order).filled == 2 * E18
        assert c.exchange.order_info(seller.order).filled == E18
    finally:
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(was))
