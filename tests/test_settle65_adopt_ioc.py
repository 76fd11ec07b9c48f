"""settle65: a settlement a previous run left pooled whose incoming order is IOC or FOK. A
one-shot order never rests: the restart closes it ("not resting after restart"), so the
pooled settlement's match named an order not open in the book, was not adopted, and its
resting side was matched again, with another open order, at the next nonce: the pooled
one landed first and the second reverted (the operator's gas; failed 2 of 2 before). Now
the adoption holds the resting side's amount in flight and takes the closed one-shot order
as it was loaded (its filled amount the chain's): nothing is matched again behind it, and
when it lands the one-shot order's record gets its fill (``filled``, as the chain has it)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sdex.chain.tx import SignedTx
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_reorg63_replaced_restart import FEES, OPERATOR


async def stored_pooled(
    c: Chain, store: Store, resting: SignedOrder, incoming: SignedOrder, swapped: bool = False
) -> SignedTx:
    """The operator's settlement of ``resting`` and ``incoming`` (1 WETH) stored as a run
    left it (``pending``, ``store`` closed; ``swapped``: its row names them the other way)
    and in the chain's pool, mining paused (the caller sets automine again)."""
    data = c.exchange.encode_settlement([(resting, incoming, E18)])
    tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)[:: -1 if swapped else 1]]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    c.rpc.call("evm_setAutomine", False)
    try:
        c.rpc.call("eth_sendRawTransaction", tx.raw)
    except BaseException:
        c.rpc.call("evm_setAutomine", True)
        raise
    return tx


def crossing(c: Chain) -> tuple[SignedOrder, SignedOrder, SignedOrder]:
    """ALICE's resting ask, BOB's bid (the one-shot order: its match pooled), CAROL's open
    bid (GTC: it crosses the resting one too)."""
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    other = c.sign(bid(c, CAROL, E18, 3000 * E6))
    return resting, taker, other


async def stored_with_pooled(
    c: Chain,
    cfg: NodeConfig,
    resting: SignedOrder,
    taker: SignedOrder,
    other: SignedOrder,
    tif: str = "ioc",
) -> SignedTx:
    """``crossing``'s orders stored open in ``cfg``'s store (``taker`` one-shot: ``tif``),
    and the operator's settlement of ``resting`` and ``taker`` stored and pooled
    (``stored_pooled``)."""
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1, "open", "api")
    store.add_order(taker, 2, "open", "api", tif)
    store.add_order(other, 3, "open", "api")
    return await stored_pooled(c, store, resting, taker)


@pytest.mark.parametrize("tif", ["ioc", "fok"])
async def test_a_pooled_settlement_of_a_one_shot_order_is_adopted_at_the_restart(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tif: str
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, taker, other = crossing(c)
    tx = await stored_with_pooled(c, cfg, resting, taker, other, tif)
    try:
        async with running_node(cfg) as (node, api):
            assert node.settler.adopted == 1 and tx.tx_hash in node.settler.in_flight
            assert node.book.entry(resting.hash).pending == E18  # (held for the pooled one)
            assert node.settler.sent == 0  # (before: the resting one matched again, sent)

            async def landed() -> bool:  # (a block each look: whatever the node sent lands)
                c.rpc.call("evm_mine")
                return await api.status(resting) == "filled" and node.settler.idle.is_set()

            await wait_for(landed)

            async def counted() -> bool:  # (the one-shot order's record: its fill, once)
                code, rec = await api.get(f"/v1/orders/{taker.hash_hex}")
                assert code == 200, rec
                meta = rec["metaData"]
                filled = int(meta["filledMakerAmount"])
                return bool(meta["status"] == "filled" and filled == 3000 * E6)

            await wait_for(counted)
            assert await api.status(other) == "open"  # (never matched with the resting one)
            assert node.settler.sent == 0 and node.settler.failed == 0
            assert node.settler.settled == 1
            db = node.config.db
    finally:
        c.rpc.call("evm_setAutomine", True)
    assert c.exchange.order_info(resting.order).filled == E18
    assert c.exchange.order_info(taker.order).filled == 3000 * E6
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows == {tx.tx_hash: "mined"}
