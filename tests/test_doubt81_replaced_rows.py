"""doubt81: a start in doubt with a settlement and its replacement pending at one nonce.

A restart in a chain doubt reads no receipt of a pending row (doubt80): the latest row signed
at each nonce is adopted unread, the others were given up unread, marked ``dropped``. One of
those could be the one that landed (the replacement was signed as the first was mined, then
the kill): its row said it never went, and the adopted replacement's wait, once the chain was
proven ours, found its nonce taken and no receipt of it, counted it lost ("transaction lost")
and diagnosed its matches as a failure against both orders. Now the earlier rows are awaited
with the one adopted (any of them may be the one that lands): the one that landed is marked
``mined`` and its matches judged as the adopted row's would be (landed by the start: given
back, ``counted_at_start``), nothing lost. Real Hardhat, a real node in this process with its
SQLite store, the node's own ``ChainDoubt`` raised before its reconcile and proven as the
watcher proves one."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import sdex.node.core as core
from sdex.chain import SignedTx
from sdex.mirror import Header
from sdex.order import SignedOrder
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_held79_doubt_settlements import WHY, proven
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_review66_adopt_landed import FEES, OPERATOR

__all__ = ["pooling"]  # (reconcile77's fixture: the chain mining only when told)
GWEI = 10**9


async def replaced_and_mined(
    c: Chain,
    db: Path,
    amount: int,
    mined: bool = True,
    again_fees: tuple[int, int] = (2 * FEES[0], 2 * FEES[1]),
) -> tuple[SignedOrder, SignedOrder, SignedTx, SignedTx]:
    """Two orders stored open, a pending settlement of ``amount`` of them and its replacement
    (same body, ``again_fees``, same nonce) recorded in ``db``, the first sent (``mined``:
    and mined; else pooled): the orders, the first and the replacement."""
    cfg = node_config(c, db, operator=OPERATOR)
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1, "open", "api")
    store.add_order(incoming, 2, "open", "api")
    data = c.exchange.encode_settlement([(resting, incoming, amount)])
    sender = c.sender(OPERATOR)
    first = sender.sign(c.exchange.address, data, 400_000, fees=FEES)
    again = sender.sign_at(first.nonce, c.exchange.address, data, 400_000, fees=again_fees)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(first.tx_hash, first.nonce, first.raw, pairs))
    await asyncio.wrap_future(
        store.add_replacement(first.tx_hash, again.tx_hash, again.nonce, again.raw)
    )
    store.close()
    c.rpc.call("eth_sendRawTransaction", first.raw)  # (before the start)
    if mined:
        assert c.rpc.call("eth_getTransactionReceipt", first.tx_hash)["status"] == "0x1"
    return resting, incoming, first, again


def start_in_doubt(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's start in doubt from before its reconcile (as its check of the saved head says)."""
    real = core.reconcile

    async def in_doubt(lane: Any) -> Any:
        if lane.mirror.head is None:  # (a head saved: doubt83 holds a start in doubt with none)
            lane.mirror.head = Header.from_rpc(
                await lane.receipts.call("eth_getBlockByNumber", "latest", False)
            )
        lane.mirror.doubt.said(WHY)
        return await real(lane)

    monkeypatch.setattr(core, "reconcile", in_doubt)


def statuses(db: Path) -> dict[str, str]:
    """``db``'s settlement rows' statuses, by transaction hash."""
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())


async def test_a_replaced_row_landed_before_a_start_in_doubt_is_mined_not_lost(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pending settlement of half of two stored orders and its replacement (same body,
    higher fees, same nonce) recorded; the first mined before the start, which is in doubt
    from before its reconcile. Once the doubt is proven: the first's row ``mined`` (before:
    ``dropped``), nothing counted lost (before: the replacement lost, its matches failed
    against both orders), the remainders matched again and settled in full."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, incoming, first, again = await replaced_and_mined(c, cfg.db, E18)  # (half of each)
    start_in_doubt(monkeypatch)
    async with running_node(cfg) as (node, api):
        s = node.settler
        assert node.mirror.doubt.held and s.adopted == 1  # (the replacement, adopted unread)
        proven(node.mirror.doubt)

        async def filled() -> bool:  # (the remainders matched again and settled)
            statuses = {await api.status(resting), await api.status(incoming)}
            return statuses == {"filled"} and s.idle.is_set() and not s.in_flight

        await wait_for(filled, timeout=60)
        assert s.lost == 0, s.lost  # (before: the replacement counted lost)
        assert c.exchange.order_info(resting.order).filled == 2 * E18
        assert c.exchange.order_info(incoming.order).filled == 6000 * E6
        records = [node.records.get(so.hash) for so in (resting, incoming)]
        assert [r.failures for r in records if r is not None] == [0, 0]  # (before: 1 each)
    rows = statuses(cfg.db)
    assert rows[first.tx_hash] == "mined", rows  # (before: "dropped")
    assert rows[again.tx_hash] == "dropped" and len(rows) == 3, rows


async def test_a_replaced_row_landed_before_a_start_in_doubt_not_adoptable_is_mined(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, the first filling both orders in full: the replacement cannot be adopted
    (its orders closed at the load), both rows given up unread. Once the doubt is proven
    each is marked as its receipt says: the first ``mined`` (before: ``dropped``, never
    read), the replacement ``dropped``."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, incoming, first, again = await replaced_and_mined(c, cfg.db, 2 * E18)
    start_in_doubt(monkeypatch)
    async with running_node(cfg) as (node, api):
        s = node.settler
        assert node.mirror.doubt.held and s.adopted == 0  # (its orders closed: not adoptable)
        assert {await api.status(resting), await api.status(incoming)} == {"filled"}
        proven(node.mirror.doubt)
        # (both dropped at once since review81: never sent again; the first marked once proven)
        await wait_for(lambda: statuses(cfg.db).get(first.tx_hash) == "mined", timeout=60)
        assert s.lost == 0 and s.sent == 0, (s.lost, s.sent)
    rows = statuses(cfg.db)
    assert rows == {first.tx_hash: "mined", again.tx_hash: "dropped"}, rows  # (before: dropped)


async def test_a_replacement_never_sent_goes_once_its_first_is_found_pooled(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pending settlement and its replacement recorded, the first pooled at fees the
    chain's base fee has since outrun, the replacement never sent (the kill came between its
    record and its send); the start is in doubt. Once the doubt is proven the wait, which
    awaits both, finds the first pooled and sends the replacement's bytes (before the
    replaced rows were awaited with it, the wait of the replacement alone did, as bytes the
    chain does not know; awaiting both, the first found pooled, nothing sent them: stuck
    until its bound, then cancelled). It lands; the first's row ``dropped``."""
    c = pooling
    c.rpc.call("evm_setAutomine", False)
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, _, first, again = await replaced_and_mined(  # (in full: nothing left to match)
        c, cfg.db, 2 * E18, mined=False, again_fees=(10 * GWEI, 2 * GWEI)
    )
    was = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(5 * GWEI))  # (the first's cap: 3)
    start_in_doubt(monkeypatch)
    try:
        async with running_node(cfg) as (node, api):
            s = node.settler
            assert node.mirror.doubt.held and s.adopted == 1
            proven(node.mirror.doubt)

            def pooled() -> bool:  # (the replacement sent: in the pool, the first's place)
                got = c.rpc.call("eth_getTransactionByHash", again.tx_hash)
                return got is not None

            await wait_for(pooled, timeout=30)
            c.rpc.call("evm_mine")

            async def settled() -> bool:
                return await api.status(resting) == "filled" and not s.in_flight

            await wait_for(settled, timeout=30)
            assert s.lost == 0 and s.settled == 1, (s.lost, s.settled)
            assert c.exchange.order_info(resting.order).filled == 2 * E18
    finally:
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(was))
    rows = statuses(cfg.db)
    assert rows[again.tx_hash] == "mined" and rows[first.tx_hash] == "dropped", rows
