"""A restart with a settlement and its replacement at higher fees both ``pending`` in the
store (``sdex.settlement.replace``: the node died while the chain kept them pooled; the pool
holds the replacement, which displaced the first). The restart sends every pending row
again (``sdex.settlement.reconcile``): exactly one lands (the pool's), its match is counted once,
and no transfer of nothing takes its nonce. Hardhat's automine resumed over that pool (it
refuses both sends, "can't be queued when automining", and mines nothing of it): before, both
rows were given up at once and the pair matched again at the next nonce, which mined the pool
and reverted behind it; now the pooled row is kept and the pool mined. With mining manual or
on an interval, nothing the node sends mines the pool: the pooled row was given up after
``RESTART_RECEIPT_WAIT`` and its pair matched again at the next nonce, which could only land
after it and so reverted when it did; now (pool64) the restart adopts it into the lane, its
orders held in flight, its outcome applied by the settler once it lands
(``sdex.settlement.adopt``)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from sdex.chain.tx import SignedTx
from sdex.devnet import Devnet
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from sdex.settlement.replace import bumped
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

OPERATOR = 19
FEES = (10**9, 10**9)


def stored_pair(
    c: Chain, tmp_path: Path, tif: str = "gtc"
) -> tuple[NodeConfig, Store, SignedOrder, SignedOrder, bytes]:
    """A node's config and store holding two crossing orders open (from its API; ``tif``:
    the incoming one's): (config, store, resting, incoming, the calldata settling them)."""
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    incoming = c.sign(bid(c, BOB, E18, 3000 * E6))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1, "open", "api")
    store.add_order(incoming, 2, "open", "api", tif)
    return cfg, store, resting, incoming, c.exchange.encode_settlement([(resting, incoming, E18)])


@asynccontextmanager
async def restarted_with_both_pooled(
    c: Chain, tmp_path: Path, resumed: bool = False
) -> AsyncIterator[tuple[Node, Api, SignedOrder, SignedOrder, SignedTx, SignedTx]]:
    """What a node that died with a replaced settlement pooled left behind (both orders
    open, GTC; both rows ``pending``; the pool holding the replacement), mining paused (or
    ``resumed``: Hardhat's automine on again, its pool unmined), and the node started on it:
    (node, its client, resting, incoming, first, replacement)."""
    cfg, store, resting, incoming, data = stored_pair(c, tmp_path)
    operator, to = c.sender(OPERATOR), c.exchange.address
    first = operator.sign(to, data, 400_000, fees=FEES)
    again = operator.sign_at(first.nonce, to, data, 400_000, fees=bumped(FEES, FEES))
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(first.tx_hash, first.nonce, first.raw, pairs))
    await asyncio.wrap_future(
        store.add_replacement(first.tx_hash, again.tx_hash, again.nonce, again.raw)
    )
    store.close()
    c.rpc.call("evm_setAutomine", False)
    try:
        c.rpc.call("eth_sendRawTransaction", first.raw)
        c.rpc.call("eth_sendRawTransaction", again.raw)  # (displaces the first in the pool)
        if resumed:
            c.rpc.call("evm_setAutomine", True)
        async with running_node(cfg) as (node, api):
            yield node, api, resting, incoming, first, again
    finally:
        c.rpc.call("evm_setAutomine", True)


async def test_a_restart_with_a_settlement_and_its_replacement_pooled_lands_one(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)  # (unmined until the test mines)
    c = chain
    async with restarted_with_both_pooled(c, tmp_path) as (
        node,
        api,
        resting,
        incoming,
        first,
        again,
    ):
        # (each row judged at the start: the first, displaced, given up; the pooled
        # replacement adopted, pending until it lands: pool64)
        assert [s.tx_hash for s in node.store.pending_settlements()] == [again.tx_hash]
        assert node.settler.adopted == 1 and again.tx_hash in node.settler.in_flight

        async def filled() -> bool:  # (a block each look: whatever the node sent lands)
            c.rpc.call("evm_mine")
            statuses = {await api.status(resting), await api.status(incoming)}
            return statuses == {"filled"} and node.settler.idle.is_set()

        await wait_for(filled)
        await synced(node, c)

        async def listed() -> bool:
            _, fills = await api.get("/v1/fills")
            return int(fills["total"]) == 2

        await wait_for(listed)
        _, fills = await api.get("/v1/fills")
        assert {f["transactionHash"] for f in fills["records"]} == {again.tx_hash}
        # (its outcome applied by the settler, as a broadcast of this run's; nothing sent)
        assert node.settler.settled == 1 and node.settler.sent == 0
        assert node.settler.gap_fills == 0
        db = node.config.db
    assert c.exchange.order_info(resting.order).filled == E18
    assert c.rpc.call("eth_getTransactionReceipt", again.tx_hash) is not None
    assert c.rpc.call("eth_getTransactionReceipt", first.tx_hash) is None
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows == {first.tx_hash: "dropped", again.tx_hash: "mined"}


async def test_a_pair_whose_settlement_is_pooled_at_a_restart_is_not_sent_again(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    async with restarted_with_both_pooled(c, tmp_path) as (node, _api, *_):
        # (the start re-matches its book before it serves: a match made is queued by now)
        assert node.settler.idle.is_set() and node.settler.sent == 0


async def test_a_restart_over_a_pool_hardhat_automines_again_lands_it_with_no_second_match(
    devnet: Devnet, chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mining resumed before the restart (as ``bench/node.py`` resumes it): Hardhat mines
    nothing of its pool until it is sent a transaction. Before: the pooled replacement was
    given up after ``RESTART_RECEIPT_WAIT``, its pair matched again at the next nonce, and
    that settlement mined the pool and reverted behind it (the operator's gas). Now the
    restart sends a transfer of nothing at the next nonce (the lane's ``_nudge``): the pool
    is mined, the replacement's receipt comes, nothing is matched again."""
    if devnet.engine != "hardhat":
        pytest.skip("Hardhat's pool (anvil mines its pool when automine is set again)")
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    async with restarted_with_both_pooled(c, tmp_path, resumed=True) as (
        node, api, resting, incoming, first, again,
    ):  # fmt: skip
        assert node.settler.idle.is_set() and node.settler.sent == 0  # (nothing re-matched)

        async def filled() -> bool:
            statuses = {await api.status(resting), await api.status(incoming)}
            return statuses == {"filled"}

        await wait_for(filled)
        await synced(node, c)
        _, fills = await api.get("/v1/fills")
        assert {f["transactionHash"] for f in fills["records"]} == {again.tx_hash}
        assert int(fills["total"]) == 2 and all(f["settledByThisNode"] for f in fills["records"])
        assert node.settler.sent == 0 and node.settler.failed == 0
        assert node.settler.pool_nudges == 1 and node.settler.gap_fills == 0
        db = node.config.db
    mined = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"), 16)
    assert mined == first.nonce + 2  # (the replacement, then the transfer of nothing)
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows == {first.tx_hash: "dropped", again.tx_hash: "mined"}
