"""users86: a closed order's stored row found damaged while the node runs is named by every
later start too.

A start reads only the open rows; a closed one is read when asked for (its record, a
listing). bounds84 named a damaged closed row so met in ``/health`` ``store.damagedRows``
and answered its hash 503 "damaged", for that run only: after a restart nothing named it
(the order 503 once read again, ``damagedRows`` empty till then). Now the row is marked in
the store (``damaged_orders``) when first met, each start names the marked rows still
damaged, and drops the mark of one the operator put right. Real Hardhat, a real node, a real
SQLite store."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.node.cliconfig import config_for
from sdex.node.reload import DamagedRows
from tests.conftest import Chain
from tests.nodeutil import free_port, running_node
from tests.test_cli_node import OPERATOR, key
from tests.test_restart_mirror import one_ask_saved


async def test_a_damaged_closed_row_met_during_a_run_is_named_after_a_restart(
    chain: Chain, tmp_path: Path
) -> None:
    cfg, s = await one_ask_saved(chain, tmp_path)
    with sqlite3.connect(cfg.db) as db:  # closed (cancelled), and damaged
        (sound,) = db.execute("SELECT filled FROM orders WHERE hash=?", (s.hash_hex,)).fetchone()
        db.execute(
            "UPDATE orders SET status='cancelled', reason='soft cancel by the maker',"
            " filled='-5' WHERE hash=?",
            (s.hash_hex,),
        )
    named = {"count": 1, "hashes": [s.hash_hex]}
    async with running_node(cfg) as (_node, api):
        code, health = await api.get("/health")
        assert health["store"]["damagedRows"] == {"count": 0, "hashes": []}  # (not read yet)
        code, body = await api.get(f"/v1/orders/{s.hash_hex}")  # (read: met damaged)
        assert code == 503 and "damaged" in str(body), (code, body)
        code, health = await api.get("/health")
        assert health["store"]["damagedRows"] == named
        # (its mark queued: the store's close commits what is queued)
    async with running_node(cfg) as (_node, api):  # before: named nothing till read again
        code, health = await api.get("/health")
        assert health["store"]["damagedRows"] == named, health["store"]
        code, body = await api.get(f"/v1/orders/{s.hash_hex}")
        assert code == 503 and "damaged" in str(body), (code, body)
    with sqlite3.connect(cfg.db) as db:  # the operator puts the row right
        db.execute("UPDATE orders SET filled = ? WHERE hash=?", (sound, s.hash_hex))
    async with running_node(cfg) as (_node, api):
        code, health = await api.get("/health")
        assert health["store"]["damagedRows"] == {"count": 0, "hashes": []}
        assert await api.status(s) == "cancelled"
    with sqlite3.connect(cfg.db) as db:
        assert db.execute("SELECT COUNT(*) FROM damaged_orders").fetchone() == (0,)


async def test_a_node_told_to_refuse_damaged_rows_does_not_start_on_them(
    chain: Chain, tmp_path: Path
) -> None:
    """``sdex node --refuse-damaged-rows``: no start while a row is known damaged (naming it),
    a start once the operator put it right; without it the node starts and names it."""
    cfg, s = await one_ask_saved(chain, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        (sound,) = db.execute("SELECT filled FROM orders WHERE hash=?", (s.hash_hex,)).fetchone()
        db.execute("UPDATE orders SET filled='-5' WHERE hash=?", (s.hash_hex,))
    strict = replace(cfg, refuse_damaged_rows=True)
    for _start in range(2):  # (the start that closes the open row, and the next)
        with pytest.raises(DamagedRows, match=s.hash_hex):
            async with running_node(strict):
                pass
    async with running_node(cfg) as (_node, api):  # (the default: starts, names it)
        _code, health = await api.get("/health")
        assert health["store"]["damagedRows"]["hashes"] == [s.hash_hex]
    with sqlite3.connect(cfg.db) as db:  # the operator puts the row right
        db.execute(
            "UPDATE orders SET filled = ?, status = 'open', reason = '' WHERE hash=?",
            (sound, s.hash_hex),
        )
    async with running_node(strict) as (_node, api):
        assert await api.status(s) == "open"


def test_the_option_reaches_the_config(chain: Chain, tmp_path: Path) -> None:
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    made = {"port": free_port(), "key": key(chain, OPERATOR), "deployment": deployment}
    assert config_for(**made).refuse_damaged_rows is False  # type: ignore[arg-type]
    strict = config_for(**made, refuse_damaged_rows=True)  # type: ignore[arg-type]
    assert strict.refuse_damaged_rows is True
    said = CliRunner().invoke(main, ["node", "--help"], terminal_width=200).output
    assert "--refuse-damaged-rows" in said
