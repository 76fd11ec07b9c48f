"""An unreadable saved mirror is said once in the log: the watcher's load says it (and that
the chain is read anew); the head check at start does not add that "the saved chain head 0
is not on the chain any more" (there was no saved head to check: the load zeroed it). A
saved head really gone from the chain is still said. Real Hardhat, real SQLite store."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_restart_mirror import one_ask_saved, saved_head_off_the_chain

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
    cfg, _ = await one_ask_saved(chain, tmp_path)
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
    cfg, _ = await one_ask_saved(chain, tmp_path)
    number = saved_head_off_the_chain(cfg)

    caplog.clear()
    caplog.set_level(logging.WARNING)
    async with running_node(cfg) as (node, _):
        assert not node.watcher.resumed
        await wait_for(lambda: node.watcher.resets == 1, timeout=20)
    said = [m for m in _saved_node_log(caplog) if GONE in m]
    assert said == [f"the saved chain head {number} {GONE}"]
