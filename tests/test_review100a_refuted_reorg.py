"""review100a (confirm98's review): a receipt the watcher's read refuted (``Tally.refuted``:
another block at its number in the mirror) is judged again only once the mirror has its block
there (``confirm.rejudged``). A true receipt is refuted so when the watcher lags a reorg: the
chain put its transaction in a new block at a number the mirror still held the old block of.
The watcher applied the new block a moment later, yet the refutation stood till
``REJUDGE_AFTER`` (120 s) *and* the mirror still had the block then: once the block had left
the kept window (``reorg_depth`` blocks, 128: about a block a second on a busy chain), it was
never judged again, the receipt barred for good (a status 0 one, which the watcher's read
cannot confirm, or one whose logs it did not keep): its settlement's wait held its orders
for ever. Now a refutation by another block is lifted once the mirror is seen holding the
receipt's own block at its number (the bar it set left to ``REJUDGE_AFTER``, as any).

Real Hardhat (automine); a real node in this process (its mirror keeps ``DEPTH`` blocks);
the reorg by ``evm_snapshot``/``evm_revert`` (an empty block at the number, then the
transaction's block there); the wait's confirmation (``confirm.confirmed_seen``) asked of the
transaction's real receipt before the watcher read the new block, once after, and past the
window once the bar is due."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain import Receipt
from sdex.settlement.confirm import Tally, confirmed_seen
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_confirm98_refuted_left_window import DEPTH, past_window, transfer_receipt

TRIES = 3
"""Confirmations asked once the bar is due (before: none believed it)."""


async def test_a_true_receipt_refuted_in_a_reorg_is_believed_past_its_window(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr("sdex.settlement.tally.REJUDGE_AFTER", 3.0)
    cfg = replace(node_config(c, tmp_path / "n.db"), reorg_depth=DEPTH)
    async with running_node(cfg) as (node, _):
        m = node.mirror
        await wait_for(lambda: node.watcher.caught_up.is_set(), timeout=30)
        snap = c.rpc.call("evm_snapshot")
        c.rpc.call("evm_mine")  # (the block the reorg undoes: empty)
        old = c.rpc.call("eth_getBlockByNumber", "latest", False)
        at = int(old["number"], 16)
        await wait_for(lambda: m.hash_at(at) == old["hash"], timeout=30)
        assert c.rpc.call("evm_revert", snap)
        real = transfer_receipt(c)
        assert int(real["blockNumber"], 16) == at and real["blockHash"] != old["hash"]
        got = Receipt.from_rpc(real)
        tally = Tally()
        # the watcher behind the reorg (no await since it applied the old block): refuted
        assert not await confirmed_seen(node.settler.receipts, got, m, tally)
        assert tally.said_not(got)
        await wait_for(lambda: m.hash_at(at) == real["blockHash"], timeout=30)
        # the wait asks on while the mirror holds its block (not due yet: still barred)
        assert not await confirmed_seen(node.settler.receipts, got, m, tally)
        await past_window(c, m, at, tally, got)
        said = [await confirmed_seen(node.settler.receipts, got, m, tally) for _ in range(TRIES)]
        # before: refuted for good (its block left the window before the bar was due)
        assert any(said), said
