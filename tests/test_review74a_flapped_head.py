"""review74a: one flapped answer for the saved head's block at a start.

``check_head`` took one answer of another hash at the saved head's number for proof that the
head left the chain, and zeroed it: the first poll then found no block of ours (a zeroed
head matches none) and reset the store, the chain unchanged: pending settlements (mined in
fact) given up, their matches free to be signed again (a paid revert), every fill dropped
and read again. The head is zeroed only when a second read repeats the other hash. Real
Hardhat, a real node and SQLite store, a real proxy on loopback (``tests/rpcfault.py``)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Calls, Gate, flapping_proxy, gated_proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg63_replaced_restart import stored_pair
from tests.test_review73_reset_start import _settle, _statuses
from tests.test_settle65_adopt_ioc import stored_pooled

SEND = "eth_sendRawTransaction"
"""(and ``eth_sendRawTransactionSync``, where the chain serves it: anvil)"""


def _saved_head(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        (raw,) = conn.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
    finally:
        conn.close()
    return int(json.loads(raw)[0])


async def test_one_flapped_answer_for_the_saved_head_resets_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    raws: list[str] = []

    def sent(calls: Calls) -> bool:  # (the raw transactions the node sends, noted)
        sends = [c.get("params") for c in calls if str(c.get("method", "")).startswith(SEND)]
        raws.extend(str(p[0]) for p in sends if isinstance(p, list))
        return False

    noting = Gate(sent)
    noting.armed.set()
    with gated_proxy(c.rpc.url, [noting]) as url:
        await _settle(replace(cfg, rpc=url), maker, taker)
    head = _saved_head(cfg.db)
    assert head > cfg.deploy_block and raws  # (sync first, then plain: the same bytes)
    # a kill after the settlement mined, before its row said so: pending at the next start
    conn = sqlite3.connect(cfg.db)
    conn.execute("UPDATE settlements SET status='pending', raw_tx=?", (raws[-1],))
    conn.commit()
    conn.close()
    c.rpc.call("hardhat_mine", hex(3))  # (the first poll has blocks to read past the head)
    with flapping_proxy(c.rpc.url, head, "0x" + "ef" * 32) as (url, told):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            latest = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: node.watcher.block >= latest, timeout=30)
            assert told == [1]  # (the one wrong answer was given, at the start's check)
            assert node.watcher.resets == 0 and node.watcher.resets_begun == 0
            # (was "dropped": the reset gave it up; since doubt80 the start's doubt reads no
            # receipt, the row marked as its receipt says once the chain is proven ours)
            await wait_for(lambda: _statuses(cfg.db) == ["mined"], timeout=30)
            # (doubt81: its hold's start forgotten with it, not kept for the process's life)
            assert not node.settler.unsent_at and not node.settler.replaced_rows
            assert not node.store.rejudge_due
            assert await api.status(maker) == "filled"


async def test_one_flapped_deploy_block_answer_at_reconcile_gives_up_nothing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement a previous run left pooled (mining paused): the start's reconcile sends
    it again only on the chain the node's view holds (``AsyncSends.on_chain``), asked with
    one read of the deployment block. One answer of another hash (the chain not replaced)
    gave it up as ``dropped`` (``ChainReplaced``), its matches free to be signed again while
    it stayed pooled: a paid revert when it landed. It is adopted, as without the flap."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg, store, resting, incoming, _ = stored_pair(c, tmp_path)
    tx = await stored_pooled(c, store, resting, incoming)
    try:  # (the start's read of the deployment block, then reconcile's: that one flaps)
        with flapping_proxy(c.rpc.url, cfg.deploy_block, "0x" + "ef" * 32, at=2) as (url, told):
            async with running_node(replace(cfg, rpc=url)) as (node, _):
                assert told == [1]
                assert node.watcher.resets == 0
                assert _statuses(cfg.db) == ["pending"]  # (was "dropped": given up)
                assert node.settler.adopted == 1 and tx.tx_hash in node.settler.in_flight
    finally:
        c.rpc.call("evm_setAutomine", True)
