"""The node's walk of its stored closed orders (a maker's cancel-up-to, a chain reset), on
real Hardhat and SQLite: a stored row that cannot be parsed is skipped and counted (it used
to fail the block's changes for ever, and the watcher with them), and a walk that fails
part way resumes where it stopped when the changes are applied again."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import sdex.node.rejudge as rejudge
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask


def bad_row(db_path: Path, c: Chain, seq: int, status: str = "filled", h: str | None = None) -> str:
    """An order of ALICE's (closed, unless ``status`` says otherwise; of hash ``h``, else
    one made of ``seq``) whose stored JSON is not an order (written by another connection,
    as a damaged or foreign database would hold it)."""
    h = h or "0x" + f"{seq:064x}"
    db = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    try:
        now = time.time()
        db.execute(
            "INSERT INTO orders (hash, seq, maker, maker_token, taker_token, order_json,"
            " status, reason, source, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (h, seq, c.address(ALICE).lower(), c.weth.address, c.usdc.address, '{"maker": 1',
             status, "filled on chain", "wallet", now, now),
        )  # fmt: skip
    finally:
        db.close()
    return h


async def closed_orders(c: Chain, api: Api, n: int, first_salt: int = 1) -> list[SignedOrder]:
    """``n`` orders of ALICE's (salts from ``first_salt``) posted and filled on chain."""
    out = []
    for salt in range(first_salt, first_salt + n):
        s = c.sign(ask(c, ALICE, E18 // 10, 300 * E6, salt=salt))
        assert (await api.post_taken(s))[0] == 201
        c.exchange.fill_order(c.sender(BOB), s, 300 * E6)
        out.append(s)
    return out


async def test_an_unparseable_stored_row_is_skipped_not_retried_for_ever(
    chain: Chain, tmp_path: Path
) -> None:
    """The bad row lies between two closed orders (its seq next to the first's, written
    while the node is stopped: the node's own next seq comes after it): the walk goes past
    it and judges the later one too."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        first = await closed_orders(c, api, 1)
        await synced(node, c)
        seq = node.store.last_seq() + 1
    bad_row(cfg.db, c, seq)
    async with running_node(cfg) as (node, api):
        later = await closed_orders(c, api, 1, first_salt=2)
        live = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=50))
        assert (await api.post_taken(live))[0] == 201
        await synced(node, c)
        judged: list[bytes] = []
        rejudge_page = node._rejudge_page

        async def spied(page: Any) -> None:
            judged.extend(s.signed.hash for s in page)
            await rejudge_page(page)

        node._rejudge_page = spied  # type: ignore[method-assign]
        c.exchange.cancel_orders_up_to(c.sender(ALICE), 51)  # the maker's walk meets the row
        c.rpc.call("hardhat_mine", hex(2))
        await synced(node, c)  # (the row used to fail every try of these blocks' changes)
        assert await api.status(live) == "cancelled"
        assert node.watcher.status == "ok", node.watcher.problem
        assert first[0].hash in judged and later[0].hash in judged, judged
        health = (await api.get("/health"))[1]
        assert health["store"]["unparseableRows"] == 1, health["store"]


async def test_an_unparseable_open_row_does_not_stop_the_start(
    chain: Chain, tmp_path: Path
) -> None:
    """Before: the start's load of open orders failed on it, and the node never started.
    Then: it was skipped, but stayed open and unknown: the same order (its hash), sent
    again (a peer's gossip), was accepted over the bad row, which kept its bad JSON. Now the
    start closes it (removed, "unparseable"): no order is held under it, and the same
    order sent again takes its place (its row written anew, open, found at the next
    start). A row read again is counted once."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    again = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=51))
    async with running_node(cfg) as (node, api):
        live = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=50))
        assert (await api.post_taken(live))[0] == 201
        seq = node.store.last_seq() + 1
    bad_row(cfg.db, c, seq, status="open", h=again.hash_hex)
    async with running_node(cfg) as (node, api):
        assert await api.status(live) == "open"
        assert not node.registry.held(again.hash)  # its row holds no order
        list(node.store.orders())  # read again: not counted again
        health = (await api.get("/health"))[1]
        assert health["store"]["unparseableRows"] == 1, health["store"]
        assert health["store"]["unparseableClosed"] == 1, health["store"]
        status, body = await api.post_taken(again)  # signed and sent again: it takes its place
        assert status == 201 and body["status"] == "open", body
    db = sqlite3.connect(cfg.db)
    try:
        row = db.execute("SELECT status, reason FROM orders WHERE hash=?", (again.hash_hex,))
        assert row.fetchone() == ("open", "")
    finally:
        db.close()
    async with running_node(cfg) as (node, api):  # the next start finds it, parsed
        assert await api.status(again) == "open" and await api.status(live) == "open"
        health = (await api.get("/health"))[1]
        assert health["store"]["unparseableRows"] == 0, health["store"]
        assert health["store"]["unparseableClosed"] == 0, health["store"]


async def test_a_walk_that_fails_part_way_resumes_where_it_stopped(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rejudge, "REJUDGE_PAGE", 1)  # one order a page
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await closed_orders(c, api, 4)
        live = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=50))
        assert (await api.post_taken(live))[0] == 201
        await synced(node, c)
        starts: list[int] = []  # where each page read began
        orders_after, rejudge_page = node.store.orders_after, node._rejudge_page
        pages = {"judged": 0}

        async def spied(*args: Any) -> Any:
            starts.append(args[2])
            return await orders_after(*args)

        async def failing_once(page: Any) -> None:
            pages["judged"] += 1
            if pages["judged"] == 3:  # the third page: the changes fail, applied again
                raise RuntimeError("the node failed part way (injected)")
            await rejudge_page(page)

        node.store.orders_after = spied  # type: ignore[method-assign]
        node._rejudge_page = failing_once  # type: ignore[method-assign]
        c.exchange.cancel_orders_up_to(c.sender(ALICE), 51)
        await synced(node, c)
        assert await api.status(live) == "cancelled"
        assert node.watcher.failures >= 1
        first, third = starts[0], starts[2]
        assert first == 0 and third > 0
        again = starts[3]
        assert again == third, starts  # resumed at the page that failed, not from 0
        assert starts.count(0) == 1, starts
