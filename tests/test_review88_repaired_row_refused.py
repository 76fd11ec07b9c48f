"""review88 (users86's ``--refuse-damaged-rows``): a damaged open row is closed by the start
that finds it (status ``removed``, reason ``unparseable``: ``close_unparseable``), and every
later start names each such row damaged (``UNUSABLE``: by its status alone, never parsed
again). The operator who does what the refusal says ("put them right in the database") and
repairs the damaged field finds the node still refusing to start, and, started without the
option, answering the repaired row's hash 503 "damaged": a row that parses, hidden for good,
unless the operator also guesses the status the node overwrote. (users86's marks of closed
rows are dropped once the row parses again; the rows the start closed are not.) Proposed
fix: a start parses the ``UNUSABLE`` rows too, names only those that still do not parse, and
reopens (judged as any stored open order) one that parses again; or the refusal and the
README say which columns to set back. store88: so it does (``Store.reopen_repaired``); the
reopened order is judged by the chain, whatever its row said (the second test).

Real Hardhat, a real node, a real SQLite store (as ``test_users86_damaged_closed``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.node.reload import DamagedRows
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_restart_mirror import one_ask_saved, post_and_save, saved_past


async def test_a_repaired_row_is_not_named_damaged(chain: Chain, tmp_path: Path) -> None:
    cfg, s = await one_ask_saved(chain, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        (sound,) = db.execute("SELECT filled FROM orders WHERE hash=?", (s.hash_hex,)).fetchone()
        db.execute("UPDATE orders SET filled='-5' WHERE hash=?", (s.hash_hex,))
    async with running_node(cfg) as (_node, api):  # (the start closes it: unparseable)
        _code, health = await api.get("/health")
        assert health["store"]["damagedRows"]["hashes"] == [s.hash_hex]
    with sqlite3.connect(cfg.db) as db:  # the operator puts the damaged field right
        db.execute("UPDATE orders SET filled = ? WHERE hash=?", (sound, s.hash_hex))
    async with running_node(cfg) as (_node, api):
        _code, health = await api.get("/health")
        code, body = await api.get(f"/v1/orders/{s.hash_hex}")
        # main: still named, and its hash answered 503 "damaged" though the row parses
        assert health["store"]["damagedRows"]["count"] == 0, health["store"]
        assert code == 200, (code, body)
    try:  # main: the strict start refused on a row that parses
        async with running_node(replace(cfg, refuse_damaged_rows=True)):
            pass
    except DamagedRows as e:
        raise AssertionError(f"refused on a repaired row: {e}") from None


def part_filled(c: Chain, s: SignedOrder) -> None:
    c.exchange.fill_order(c.sender(BOB), s, 300 * E6)  # (a tenth of its WETH)


def cancelled(c: Chain, s: SignedOrder) -> None:
    c.exchange.cancel_order(c.sender(ALICE), s.order)


def untouched(c: Chain, s: SignedOrder) -> None:
    c.rpc.call("evm_mine")


@pytest.mark.parametrize(
    ("meanwhile", "status", "filled"),
    [(part_filled, "partially_filled", E18 // 10), (cancelled, "cancelled", 0),
     (untouched, "open", 0)],
    ids=["part-filled", "cancelled", "untouched"],
)  # fmt: skip
async def test_a_repaired_row_is_judged_by_the_chain(
    chain: Chain,
    tmp_path: Path,
    meanwhile: Callable[[Chain, SignedOrder], None],
    status: str,
    filled: int,
) -> None:
    """What the chain did to the order while its row was closed unparseable (the node that
    closed it running, its mirror applying the block) decides the reopened order's status
    and filled amount, not the repaired row's (its ``filled`` set back to the sound '0')."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    s = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        await post_and_save(node, api, c, [s])
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE orders SET filled='-5' WHERE hash=?", (s.hash_hex,))
    async with running_node(cfg) as (node, api):  # (closed unparseable by this start)
        await wait_for(lambda: node.watcher.caught_up.is_set())
        meanwhile(c, s)
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_past(node, head), timeout=30)
        code, _body = await api.get(f"/v1/orders/{s.hash_hex}")
        assert code == 503  # (damaged)
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE orders SET filled='0' WHERE hash=?", (s.hash_hex,))
    async with running_node(replace(cfg, refuse_damaged_rows=True)) as (node, api):
        code, rec = await api.get(f"/v1/orders/{s.hash_hex}")
        assert code == 200, (code, rec)
        meta = rec["metaData"]
        assert (meta["status"], int(meta["filledMakerAmount"])) == (status, filled), meta
        _code, health = await api.get("/health")
        assert health["store"]["damagedRows"] == {"count": 0, "hashes": []}
    with sqlite3.connect(cfg.db) as db:  # (and so stored)
        row = db.execute("SELECT status, filled FROM orders WHERE hash=?", (s.hash_hex,))
        assert row.fetchone() == (status, str(filled))
