"""store96: every read ``NodeChainState._apply_block`` makes of an evicted order is put off when
the store refuses it (``NodeReadLater._read_later``): the order due a recheck, judged by the
chain's word once the store reads it. store95 put off ``_closed_follow_chain``'s alone; the
block's re-judged orders (``registry.load`` of the ``rejudge`` set: a cancel on chain of an
order out of the book, a reorg's, a cancel-up-to's) still raised out of the block's
application, tried again and failing at each try while the store refused: the watcher stuck on
that block, its head never saved past it. And store95's orders put off were held in memory
only: a node killed once its head was saved past the block lost them, the record keeping its
stored filled amount for good; now they are on the recheck list, whose row is written before
the head is saved past the block (``Rechecks``), and a start judges them again.

Real Hardhat, real nodes (in this process, and an ``sdex node`` process killed by its PID and
started again), their SQLite stores; the store's refusal a real SQLite authorizer on the
node's read-only connections (in the process: a ``sitecustomize`` on its path sets it while a
file exists)."""

from __future__ import annotations

import logging
import os
import textwrap
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, node_up, running_node, saved_head, wait_for
from tests.refusedread import taken_back, taken_in_once
from tests.reorgutil import forgotten
from tests.test_attack38_soft_cancel_sync import cancel_at
from tests.test_mirror import synced
from tests.test_node import ALICE, CAROL, E6, E18, ask
from tests.test_peers93_stored_pusher import fills_stored
from tests.test_reorg_remined import reorged_ioc
from tests.test_small94_credit_once import NO_FILLS, on_writer
from tests.test_store95_follow_refused import (
    applied_past,
    evicted_half,
    half_followed,
    refusing_reads,
)


async def test_a_refused_read_of_an_order_cancelled_on_chain_does_not_hold_the_watcher(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ALICE's ask soft-cancelled and evicted; while the reader refuses every read of the
    orders, CAROL fills half of it on the chain and ALICE then cancels it on chain (the block's
    re-judged orders: a cancel of an order out of the book): both blocks applied and blocks
    after them (before: the watcher stuck on the cancel's block), the order named once in
    the log; the store reading again, the record takes the chain's filled amount, its fill
    listed once, the order cancelled."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        half = await evicted_half(c, node, api)
        reader, refused = refusing_reads(node)
        try:
            with caplog.at_level(logging.WARNING, logger="sdex.node"):
                filled = c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)  # 0.5 WETH
                assert filled.status == 1
                gone = c.exchange.cancel_order(c.sender(ALICE), half.order)
                assert gone.status == 1
                await applied_past(c, node)  # (blocks after it applied too; before: stuck)
            assert refused, "the order's row was never read"
            named = [r for r in caplog.records if half.hash_hex[2:] in r.getMessage()]
            assert len(named) == 1, [r.getMessage() for r in named]  # (once, not a block)
        finally:
            reader.set_authorizer(None)
        c.rpc.call("evm_mine")  # (a block to judge it with, the store reading again)
        assert c.exchange.order_info(half.order).filled == E18 // 2
        await half_followed(api, half)


def refusing_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``SITECUSTOMIZE`` on the ``PYTHONPATH`` of the processes the test starts: the flag
    whose presence makes their readers refuse every read of the orders (not there yet)."""
    flag = tmp_path / "refuse"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE.format(flag=str(flag))))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return flag


SITECUSTOMIZE = """
import os, sqlite3, threading, time
_FLAG = {flag!r}
_real = sqlite3.connect
_readers = []

def _refuse(action, table, *_):
    if action == sqlite3.SQLITE_READ and table == "orders" and os.path.exists(_FLAG):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK

def connect(database, *args, **kwargs):
    db = _real(database, *args, **kwargs)
    if "mode=ro" in str(database):  # (the store's reader, and each listing's own)
        db.set_authorizer(_refuse)
        if kwargs.get("check_same_thread") is False:
            _readers.append(db)
    return db

def _watch():  # (setting it again expires the reader's prepared statements)
    was = os.path.exists(_FLAG)
    while True:
        time.sleep(0.02)
        if os.path.exists(_FLAG) != was:
            was = not was
            for db in _readers:
                try:
                    db.set_authorizer(_refuse)
                except sqlite3.Error:
                    pass

sqlite3.connect = connect
threading.Thread(target=_watch, daemon=True).start()
"""


async def test_an_order_put_off_is_judged_after_a_kill(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALICE's ask soft-cancelled (the node stopped: a closed order is not loaded at a start,
    so it is out of memory at the next); an ``sdex node`` process on its store, whose
    read-only connections refuse every read of the orders while ``refuse`` exists; CAROL
    fills half of the ask on chain, the head saved past that block, the node killed by its
    PID. Started again, the store reading: the record takes the chain's filled amount (before:
    it kept 0 for good, the order put off in memory only), listed once, still cancelled."""
    c = chain
    db = tmp_path / "n.db"
    half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
    async with running_node(node_config(c, db)) as (_, api):
        assert (await api.post_taken(half))[0] == 201
        await cancel_at(api, c, half, ALICE)
    flag = refusing_site(tmp_path, monkeypatch)
    async with node_up(c, db) as (proc, api):
        flag.touch()
        filled = c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)  # 0.5 WETH
        assert filled.status == 1
        c.rpc.call("evm_mine")
        top = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_head(db) >= top, 60)  # (past the fill's block)
        said = db.with_suffix(".log").read_text(errors="replace")
        assert half.hash_hex[2:] in said and "refused" in said, said[-3000:]  # (put off)
        proc.kill()
        proc.wait(30)
    flag.unlink()
    assert c.exchange.order_info(half.order).filled == E18 // 2
    async with node_up(c, db) as (_, api):
        await half_followed(api, half)  # (before: 0 for good)


async def test_a_blocks_refused_fills_are_logged_once_whatever_its_tries(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """CAROL fills ALICE's ask on chain while the writer refuses every fill row (a real
    trigger): the watcher applies the block try after try; the refused fills logged once
    (before: once a try); the trigger dropped, the fill stored once, the head saved past it."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))
        assert (await api.post_taken(half))[0] == 201
        await on_writer(node, NO_FILLS)
        try:
            with caplog.at_level(logging.WARNING, logger="sdex.node"):
                failed = node.watcher.failures
                filled = c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)
                assert filled.status == 1
                await wait_for(lambda: node.watcher.failures >= failed + 3, 60)  # (tries)
                assert node.watcher.saved < filled.block_number  # (the rows refused)
        finally:
            await on_writer(node, "DROP TRIGGER no_fills")
        await wait_for(lambda: node.watcher.saved >= filled.block_number, 60)
        said = [r for r in caplog.records if "fills of a block could not" in r.getMessage()]
        assert len(said) == 1, [r.getMessage() for r in said]  # (before: one a try)
        await fills_stored(api, 1)


async def test_a_refused_read_of_an_order_whose_undone_fill_is_mined_again(
    chain: Chain, tmp_path: Path
) -> None:
    """BOB's IOC closed ``removed`` by a reorg that undid its fill, evicted; its settlement
    mined again while the reader refuses every read of the orders (``_remined``'s): the block
    applied and those after it (before: the watcher stuck on it); the store reading again,
    the IOC's record takes its fill back, once (the chain's amount), the audit clean."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", closed_grace=0.2)
    async with running_node(cfg) as (node, api):
        _, taker, tx, raw = await reorged_ioc(c, node, api)
        await forgotten(node, taker)
        reader, refused = refusing_reads(node)
        try:
            assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx
            await applied_past(c, node)  # (blocks after it applied too; before: stuck)
            assert refused, "the order's row was never read"
        finally:
            reader.set_authorizer(None)
        c.rpc.call("evm_mine")  # (a block to take it in, the store reading again)
        assert c.exchange.order_info(taker.order).filled == 3000 * E6
        await taken_back(api, taker)
        _, body = await api.get("/v1/fills")
        assert body["total"] == 2, body
        await taken_in_once(c, api, taker, lambda: synced(node, c))
