"""A saved mirror row of an order (``mirror_orders``) whose filled amount is junk, under a
valid hash: it is read only when that order is named (at the reload, by a fill of a block),
and then it is taken as unknown, with a warning: the order is judged by the chain, the
watcher goes on (before: the start failed, or every poll raised on it and retried, so one
bad row stalled the node's view of the chain). Real Hardhat, a real node restarted on the
same SQLite store."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from sdex.storerows import mark_of
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_restart_mirror import (
    one_part_filled_saved,
    saved_past,
    status,
)

JUNK = [
    ("not a number", "x"),
    ("past uint256", str(2**256)),
    ("below zero", "-5"),
    ("a float", "1e3"),
    ("blank", ""),
    ("with spaces", " 7 "),
]


@pytest.mark.parametrize("junk", [j[1] for j in JUNK], ids=[j[0] for j in JUNK])
async def test_a_junk_mark_of_a_named_order_is_read_from_the_chain_not_a_stall(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, junk: str
) -> None:
    c = chain
    cfg, s = await one_part_filled_saved(c, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        n = db.execute(
            "UPDATE mirror_orders SET filled=? WHERE hash=?", (junk, s.hash_hex.lower())
        ).rowcount
        assert n == 1

    caplog.set_level(logging.WARNING)
    async with running_node(cfg) as (node, api):
        assert node.started.is_set()
        assert await status(api, s) == "partially_filled"
        assert node.records[s.hash].filled == E18 // 10  # (the chain's word)
        c.exchange.fill_order(c.sender(BOB), s, 600 * E6)  # a block names it: the watcher
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_past(node, head), timeout=20)  # (before: stalled)
        truth = c.exchange.order_info(s.order).filled
        assert truth == 3 * E18 // 10
        await wait_for(lambda: node.records[s.hash].filled == truth, timeout=10)
        assert await status(api, s) == "partially_filled"
        assert node.watcher.status == "ok"
    bad = [r for r in caplog.records if "mirror row" in r.getMessage()]
    assert bad and all(r.levelno == logging.WARNING for r in bad)
    assert s.hash_hex.lower()[:10] in bad[0].getMessage()


async def test_a_junk_mark_named_by_a_block_alone_does_not_stall_the_watcher(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An order this node never held (filled on chain by others): its row is read first by
    the watcher, applying a block that fills it again (before: every poll raised there)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    s = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, _):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        c.exchange.fill_order(c.sender(BOB), s, 300 * E6)
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_past(node, head), timeout=20)
        assert node.mirror.filled_of(s.hash) == E18 // 10
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE mirror_orders SET filled='zz' WHERE hash=?", (s.hash_hex.lower(),))

    caplog.set_level(logging.WARNING)
    async with running_node(cfg) as (node, api):
        assert node.watcher.resumed
        c.exchange.fill_order(c.sender(BOB), s, 600 * E6)
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_past(node, head), timeout=20)  # (before: stalled)
        assert node.watcher.status == "ok"
        # posted now: judged by the chain (the mirror does not know what was filled before)
        assert (await api.post_order(s))[0] == 201
        assert node.records[s.hash].filled == 3 * E18 // 10
        assert await status(api, s) == "partially_filled"
    assert any("mirror row" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("filled", "cancelled", "want"),
    [("0", 0, (0, False)), ("5", 1, (5, True)), (str(2**256 - 1), 0, (2**256 - 1, False))],
)
def test_a_row_as_this_node_writes_it_is_read(
    filled: str, cancelled: int, want: tuple[int, bool]
) -> None:
    assert mark_of(filled, cancelled) == want


@pytest.mark.parametrize(
    ("filled", "cancelled"),
    [*((j, 0) for _, j in JUNK), (5, 0), (None, 0), ("0x10", 0), ("٣", 0),
     ("1" * 100, 0), ("1", 2), ("1", -1), ("1", "1"), ("1", 1.0), ("1", None)],
)  # fmt: skip
def test_a_row_this_node_does_not_write_is_refused(filled: object, cancelled: object) -> None:
    with pytest.raises(ValueError):
        mark_of(filled, cancelled)
