"""An unreadable saved mirror is said once in the log: the watcher's load says it (and that
the chain is read anew); the head check at start does not add that "the saved chain head 0
is not on the chain any more" (there was no saved head to check: the load zeroed it). A
saved head really gone from the chain is still said. Real Hardhat, real SQLite store."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import CAROL, E6, E18, ask
from tests.test_restart_mirror import post_and_save

GONE = "is not on the chain any more"


def _saved_node_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("sdex")
    ]


async def test_an_unreadable_saved_mirror_is_said_once(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    s = c.sign(ask(c, CAROL, E18 // 10, 330 * E6))
    async with running_node(cfg) as (node, api):
        await post_and_save(node, api, c, [s])
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE meta SET value='{[' WHERE key='mirror_head'")

    caplog.clear()
    caplog.set_level(logging.WARNING)
    async with running_node(cfg) as (node, _):
        assert not node.watcher.resumed
        await wait_for(lambda: node.watcher.resets == 1, timeout=20)
    said = _saved_node_log(caplog)
    assert sum("saved chain mirror is unreadable" in m for m in said) == 1
    assert not [m for m in said if GONE in m]


async def test_a_saved_head_gone_from_the_chain_is_still_said(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    s = c.sign(ask(c, CAROL, E18 // 10, 330 * E6))
    async with running_node(cfg) as (node, api):
        await post_and_save(node, api, c, [s])
    with sqlite3.connect(cfg.db) as db:
        (raw,) = db.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
        number, _, timestamp = json.loads(raw)
        other = json.dumps([number, "0x" + "ee" * 32, timestamp])
        db.execute("UPDATE meta SET value=? WHERE key='mirror_head'", (other,))

    caplog.clear()
    caplog.set_level(logging.WARNING)
    async with running_node(cfg) as (node, _):
        assert not node.watcher.resumed
        await wait_for(lambda: node.watcher.resets == 1, timeout=20)
    said = [m for m in _saved_node_log(caplog) if GONE in m]
    assert said == [f"the saved chain head {number} {GONE}"]
