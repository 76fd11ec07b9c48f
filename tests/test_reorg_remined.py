"""A fill a reorg undid, mined again in a later block (the same transaction): an order the
node had closed meanwhile (an IOC closed ``removed`` when its fills were undone) takes the
fill back into its record. Real Hardhat (``evm_snapshot``/``evm_revert``,
``eth_sendRawTransaction`` of the settlement's stored raw transaction), a real node on
loopback, and ``sdex audit`` against it.

review20 left it: the IOC kept ``filledMakerAmount`` 0 while ``/v1/fills`` listed the fill
mined again, and the audit said ``fill_after_node_closed`` of an honest node."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from sdex.audit import audit_network
from sdex.model import FillEvent
from sdex.node.core import Node
from sdex.node.fillmemory import UndoneFills
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import (
    Api,
    free_port,
    healthy,
    node_config,
    node_process,
    running_node,
    wait_for,
)
from tests.reorgutil import (
    forgotten,
    half_filled_ask,
    raw_tx_of,
    reorg,
    reorged,
    settled,
    soft_cancel,
    the_settlement,
)
from tests.test_mirror import head, meta, reorged_at_head, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR


def _fill(order: int, tx: str, amount: int) -> FillEvent:
    h = bytes([order]) * 32
    return FillEvent(h, "0x" + "a" * 40, "0x" + "b" * 40, amount, 1, "0x" + "c" * 40, 0, 1, tx, 0)


def test_undone_fills_are_found_by_order_and_transaction_until_forgotten() -> None:
    undone = UndoneFills(kept=3)
    undone.add([_fill(1, "0xAA", 5), _fill(1, "0xbb", 7), _fill(2, "0xaa", 9)])
    # another transaction of order 1, order 1's 0xaa mined again (hash case aside)
    block = [_fill(1, "0xcc", 100), _fill(1, "0xaa", 5), _fill(3, "0xaa", 1)]
    assert undone.mined_again(block) == {bytes([1]) * 32: 5}
    assert undone.mined_again(block) == {bytes([1]) * 32: 5}  # (a block applied again)
    undone.forget(block)
    assert undone.mined_again(block) == {} and len(undone) == 2
    undone.add([_fill(4, "0x01", 1), _fill(5, "0x02", 1)])  # bounded: the oldest go
    assert len(undone) == 3
    assert undone.mined_again([_fill(1, "0xbb", 7), _fill(5, "0x02", 1)]) == {bytes([5]) * 32: 1}


async def reorged_ioc(c: Chain, node: Node, api: Api) -> tuple[SignedOrder, SignedOrder, str, str]:
    """ALICE's ask resting, BOB's IOC bid filling it (its rest dropped), settled; then a reorg
    that undid the settlement: the IOC closed ``removed``, the ask's pending amount freed.
    (The ask, the IOC, the settlement's hash and its raw bytes, to mine again.)"""
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    assert (await api.post_taken(resting))[0] == 201
    snap = c.rpc.call("evm_snapshot")
    taker = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))  # its rest dropped
    code, posted = await api.post_taken(taker, "ioc")
    assert code == 201 and posted["matches"], posted
    await settled(c, node, api, taker)
    tx, raw = await the_settlement(c, api)

    reorg(c, snap)

    async def undone() -> bool:
        return (
            reorged_at_head(node, c)
            and (await meta(api, taker))["status"] == "removed"
            and (await meta(api, resting))["pendingMakerAmount"] == "0"
        )

    await wait_for(undone, timeout=20)
    return resting, taker, tx, raw


@pytest.mark.parametrize("then", ["stays", "evicted", "restarts"])
async def test_an_undone_fill_mined_again_later_is_back_in_a_closed_orders_record(
    chain: Chain, tmp_path: Path, then: str
) -> None:
    """``evicted``: the IOC's record left memory before its fill came back (read back from
    the store by the block that carries it). ``restarts``: the node stopped after the reorg,
    the transaction mined again while it was down, then started on the same store (close22:
    the undone fills were in memory only, the record stayed filled 0)."""
    c = chain
    path = tmp_path / "n.db"
    cfg = node_config(c, path, closed_grace=0.2 if then == "evicted" else 10.0)
    async with running_node(cfg) as (node, api):
        resting, taker, tx, raw = await reorged_ioc(c, node, api)
        assert (await meta(api, taker))["filledMakerAmount"] == "0"
        if then == "evicted":
            await forgotten(node, taker)
        if then != "restarts":
            await _mined_again(c, node, api, raw, tx, taker, resting)
    if then == "restarts":
        async with running_node(cfg) as (node, api):
            assert node.started.is_set()
            assert (await meta(api, taker))["filledMakerAmount"] == "0"
            await _mined_again(c, node, api, raw, tx, taker, resting)


async def test_an_undone_fill_is_back_after_a_kill_9_of_a_node_process(
    chain: Chain, tmp_path: Path
) -> None:
    """The node a process of its own, SIGKILLed (by its PID) once the reorg is applied (its
    head saved: the undone fills committed with it), started again on the same database;
    then the transaction is mined again."""
    c = chain
    deployment = tmp_path / "devnet.json"
    c.deployment.save(deployment)
    db, port, log = tmp_path / "node.db", free_port(), tmp_path / "node.log"
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
    async with aiohttp.ClientSession() as session:
        api = Api(session, f"http://127.0.0.1:{port}")
        with node_process(c, deployment, db, port, OPERATOR, log) as proc:
            await wait_for(lambda: healthy(session, api.base, proc), timeout=120)
            assert (await api.post_taken(resting))[0] == 201
            snap = c.rpc.call("evm_snapshot")
            code, posted = await api.post_taken(taker, "ioc")
            assert code == 201 and posted["matches"], posted

            async def settled() -> bool:
                return (await api.get("/v1/fills"))[1]["total"] == 2  # (maker's, taker's)

            await wait_for(settled, timeout=30)
            _, fills = await api.get("/v1/fills")
            (tx,) = {f["transactionHash"].lower() for f in fills["records"]}
            raw = raw_tx_of(c, tx)
            reorg(c, snap)

            async def undone_and_saved() -> bool:
                with sqlite3.connect(db) as conn:
                    row = conn.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
                saved = row is not None and json.loads(row[0])[1] == head(c)[1]
                return saved and (await meta(api, taker))["status"] == "removed"

            await wait_for(undone_and_saved, timeout=30)
            proc.kill()
            proc.wait(timeout=10)
        with node_process(c, deployment, db, port, OPERATOR, log) as proc:
            await wait_for(lambda: healthy(session, api.base, proc), timeout=120)
            assert (await meta(api, taker))["filledMakerAmount"] == "0"
            assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx
            c.rpc.call("evm_mine")

            async def back() -> bool:
                listed = (await api.get("/v1/fills"))[1]["total"] == 2
                return listed and (await meta(api, taker))["filledMakerAmount"] == str(3000 * E6)

            await wait_for(back, timeout=30)
            assert (await meta(api, taker))["status"] == "removed"
            report = await asyncio.to_thread(
                audit_network, c.deployment, [api.base], orders=[], sync_timeout=5.0
            )
            assert report.ok, report.to_json()


async def _mined_again(
    c: Chain, node: Node, api: Api, raw: str, tx: str, taker: SignedOrder, resting: SignedOrder
) -> None:
    """A later poll: the same transaction mined again; the IOC's record takes its fill."""
    assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx
    c.rpc.call("evm_mine")
    await synced(node, c)
    assert c.exchange.order_info(taker.order).filled == 3000 * E6

    async def listed() -> bool:
        return (await api.get("/v1/fills"))[1]["total"] == 2

    await wait_for(listed, timeout=20)
    m = await meta(api, taker)
    assert (m["status"], m["filledMakerAmount"]) == ("removed", str(3000 * E6)), m
    assert m["remainingFillableMakerAmount"] == "0", m
    assert (await meta(api, resting))["status"] == "filled"
    report = await asyncio.to_thread(
        audit_network, c.deployment, [api.base], orders=[], sync_timeout=5.0
    )
    assert report.ok, report.to_json()


async def test_a_new_fill_of_a_soft_cancelled_order_after_a_reorg_counts_in_its_record(
    chain: Chain, tmp_path: Path
) -> None:
    """The other fill: Alice's ask, half filled, soft-cancelled, its fill undone by a reorg;
    then Bob fills it with another transaction (the signed order is still valid on chain).
    A soft cancel binds the nodes, not the chain: that fill is real, and the record shows
    it, the order still ``cancelled`` (cancel62; before, the record kept 0 filled and the
    audit flagged the fill against the node)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        resting, snap = await half_filled_ask(c, node, api)
        await soft_cancel(c, api, resting, ALICE)
        await reorged(c, node, snap)
        assert (await meta(api, resting))["filledMakerAmount"] == "0"

        c.exchange.fill_order(c.sender(BOB), resting, 750 * E6)  # another transaction
        await synced(node, c)
        filled = c.exchange.order_info(resting.order).filled
        assert filled > 0

        async def counted() -> bool:
            m = await meta(api, resting)
            return (m["status"], m["filledMakerAmount"]) == ("cancelled", str(filled))

        await wait_for(counted, timeout=20)
        report = await asyncio.to_thread(
            audit_network, c.deployment, [api.base], orders=[], sync_timeout=5.0
        )
        assert report.ok, report.to_json()
