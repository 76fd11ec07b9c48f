"""store95: ``NodeRejudge._closed_follow_chain`` read an evicted closed order's row (a
soft-cancelled one a fill on chain moved) unguarded: a store error there raised out of the
block's application, which the watcher tried again, failing at each try while the store
refused (small94 guarded ``_paid_sources``' read only). The watcher stayed on that block: no
later block applied, its head not saved. Now the order is left for a later block (logged once),
the block applied, and the order's filled amount follows the chain's once the store reads.

And ``_paid_sources``' warning of an order the store refused (small94) was logged again at
each try of a block another failure had the watcher apply again; now once an order and block.

A real node on a real Hardhat and its SQLite store: the node's real reader connection refusing
every read of the orders table (a SQLite authorizer) while the order is filled on chain, and
a real trigger refusing the fills' rows (the watcher's)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.reorgutil import forgotten
from tests.test_attack38_soft_cancel_sync import cancel_at, status_at
from tests.test_checks75_held_reads import HONEST, done, push
from tests.test_node import ALICE, CAROL, DAVE, E6, E18, ask, bid
from tests.test_peers93_stored_pusher import fills_stored
from tests.test_small94_credit_once import NO_FILLS, on_writer
from tests.test_sybil78_traded_first import OPERATOR, charging, fee_of
from tests.test_user50_late_cancel_fill import filled_at


def refusing(refused: list[str]) -> Callable[..., int]:
    """A SQLite authorizer refusing each read of the ``orders`` table (its statement's
    preparation), counted in ``refused``: a store error that lasts, as a failing disk gives."""

    def authorize(action: int, table: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and table == "orders":
            refused.append(table)
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


def refusing_reads(node: Node) -> tuple[sqlite3.Connection, list[str]]:
    """The node's real reader connection refusing every read of the orders (``refusing``)
    until its authorizer is cleared: (that connection, the reads refused so far)."""
    reader = node.store._reader
    assert isinstance(reader, sqlite3.Connection)
    refused: list[str] = []
    reader.set_authorizer(refusing(refused))
    return reader, refused


async def applied_past(c: Chain, node: Node) -> None:
    """Two blocks mined: the watcher applies them (and any before them) and saves its head
    at the top (a watcher held on a block never does)."""
    c.rpc.call("evm_mine")
    c.rpc.call("evm_mine")
    top = int(c.rpc.call("eth_blockNumber"), 16)
    await wait_for(lambda: node.watcher.saved >= top, 60)


async def evicted_half(c: Chain, node: Node, api: Api) -> SignedOrder:
    """ALICE's ask (2 WETH at 1000) taken, soft-cancelled, and evicted from memory at once."""
    half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
    assert (await api.post_taken(half))[0] == 201
    await cancel_at(api, c, half, ALICE)
    node.registry.grace = 0.0
    await forgotten(node, half)
    return half


async def half_followed(api: Api, half: SignedOrder) -> None:
    """(``half`` filled by half on the chain, the store reading again) The order's record
    takes the chain's filled amount, its fill listed once, the order still cancelled."""

    async def followed() -> bool:
        return await filled_at(api, half.hash_hex) == E18 // 2

    await wait_for(followed, 60)
    await fills_stored(api, 1)
    _, body = await api.get("/v1/fills")
    assert len(body["records"]) == 1, body
    assert await status_at(api, half) == "cancelled"


async def test_a_lasting_store_error_reading_a_followed_order_does_not_hold_the_watcher(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ALICE's ask soft-cancelled and evicted; CAROL fills half of it on the chain while the
    reader refuses every read of the orders: the block applied and blocks after it (before:
    the watcher stuck on it, its head never saved past it), the order named once in the log;
    the store reading again, the order's record takes the chain's filled amount, its fill
    listed once, the order still cancelled."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        half = await evicted_half(c, node, api)
        reader, refused = refusing_reads(node)
        try:
            with caplog.at_level(logging.WARNING, logger="sdex.node"):
                filled = c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)  # 0.5 WETH
                assert filled.status == 1
                await applied_past(c, node)  # (blocks after it applied too; before: stuck)
            assert refused, "the order's row was never read"
            named = [r for r in caplog.records if half.hash_hex[2:] in r.getMessage()]
            assert len(named) == 1, [r.getMessage() for r in named]  # (once, not a block)
        finally:
            reader.set_authorizer(None)
        c.rpc.call("evm_mine")  # (a block to judge it with, the store reading again)
        assert c.exchange.order_info(half.order).filled == E18 // 2
        await half_followed(api, half)


async def test_the_credit_skipped_is_logged_once_whatever_the_tries_of_its_block(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """HONEST pushes DAVE's bid paying this node's fee; DAVE soft-cancels it, evicted;
    CAROL fills it on the chain while the reader refuses every read of the orders (the
    credit skipped: small94) and the writer refuses the fill's row (the block applied again,
    try after try): the skipped credit logged once (before: once a try); the store reading
    again, the try that applies the block credits HONEST, once."""
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db", OPERATOR))
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        paying = c.sign(bid(c, DAVE, E18, 3100 * E6, **fee_of(c, E18)))
        pushed = push(g, HONEST, paying)
        await wait_for(done(pushed), 30)
        assert pushed.result()["accepted"] == 1, pushed.result()
        await cancel_at(api, c, paying, DAVE)
        node.registry.grace = 0.0
        await forgotten(node, paying)
        await on_writer(node, NO_FILLS)
        reader, refused = refusing_reads(node)
        try:
            with caplog.at_level(logging.WARNING, logger="sdex.node"):
                filled = c.exchange.fill_order(c.sender(CAROL), paying, E18 // 10)
                assert filled.status == 1
                await wait_for(lambda: len(refused) >= 8, 60)  # (tries of the block: 4+)
                assert node.watcher.saved < filled.block_number  # (the row refused)
        finally:
            reader.set_authorizer(None)
            await on_writer(node, "DROP TRIGGER no_fills")
        await wait_for(lambda: node.watcher.saved >= filled.block_number, 60)
        skipped = [r for r in caplog.records if "credit skipped" in r.getMessage()]
        assert len(skipped) == 1, [r.getMessage() for r in skipped]  # (before: one a try)
        assert g.peers.standing(HONEST).traded == 1  # (the try that read it: once)
        await fills_stored(api, 1)
