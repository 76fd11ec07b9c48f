"""review81b: a start whose chain doubt ended between its reconcile and its adoption.

A start in a doubt (its check of the saved head answered by another chain's block, say)
keeps the rows signed before the latest at a nonce to await with it (doubt81,
``NonceLane.replaced_rows``); the doubt proven before the adoption (the start's catch-up
polls prove one: ``AGREE`` of them), the adoption read the latest row's receipt alone: none
(the first had landed before the start, in the orders the start loaded), so it was adopted
as pooled and its wait, finding the first's receipt, applied that fill a second time: both
orders said ``filled`` while the chain filled half of each, their remainders never matched
again. Real Hardhat, a real node in this process with its SQLite store, the node's own
``ChainDoubt`` raised before its reconcile and proven right after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sdex.node.core as core
from sdex.settlement.reconcile import MARK_REFUSED
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_doubt81_replaced_rows import replaced_and_mined, start_in_doubt, statuses
from tests.test_held79_doubt_settlements import WHY, proven
from tests.test_node import E6, E18
from tests.test_review66_adopt_landed import OPERATOR
from tests.withdrawnutil import locked_db


def doubt_through_reconcile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's start in doubt from before its reconcile, proven once it returns (as the
    start's catch-up proves one) before the adoption."""
    real = core.reconcile

    async def in_doubt(lane: Any) -> Any:
        lane.mirror.doubt.said(WHY)
        try:
            return await real(lane)
        finally:
            proven(lane.mirror.doubt)

    monkeypatch.setattr(core, "reconcile", in_doubt)


@pytest.mark.parametrize("amount", [E18, 2 * E18], ids=["half", "full"])
async def test_a_replaced_row_landed_is_not_counted_twice_once_the_doubt_ended(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, amount: int
) -> None:
    """A pending settlement of ``amount`` of two stored orders (2 of each) and its
    replacement recorded, the first mined before the start; the start in doubt through its
    reconcile alone. The node's filled amounts are the chain's (before, half: both said
    ``filled``, the chain 1 of 2 each); the remainders matched again and settled; the
    first's row ``mined``, the replacement's ``dropped``."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, incoming, first, again = await replaced_and_mined(c, cfg.db, amount)
    doubt_through_reconcile(monkeypatch)
    async with running_node(cfg) as (node, api):
        s = node.settler
        assert not node.mirror.doubt.held

        async def settled() -> bool:  # (the remainders matched again and settled, if any)
            done = {await api.status(resting), await api.status(incoming)} == {"filled"}
            return done and s.idle.is_set() and not s.in_flight

        await wait_for(settled, timeout=60)
        chain_filled = [c.exchange.order_info(so.order).filled for so in (resting, incoming)]
        assert chain_filled == [2 * E18, 6000 * E6], chain_filled  # (before: half of each)
        assert s.lost == 0, s.lost
        await wait_for(lambda: statuses(cfg.db).get(first.tx_hash) == "mined", timeout=60)
    rows = statuses(cfg.db)
    assert rows[first.tx_hash] == "mined" and rows[again.tx_hash] == "dropped", rows


async def test_a_refused_mark_of_an_unread_row_is_written_again(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """doubt81's not-adoptable start in doubt (the first row filled both orders in full
    before the start): both rows given up unread, dropped at once, to be marked as their
    receipts say once the chain is proven ours (``mark_unread``). The store is locked from
    another connection as the doubt is proven: the first's mark is refused (past the
    writer's busy timeout). Once the lock is let go the first is marked ``mined`` (before,
    the refusal ended the task that marks them, silently: the first stayed ``dropped``,
    its row saying it never went, and any row after it was never marked)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    _, _, first, again = await replaced_and_mined(c, cfg.db, 2 * E18)
    start_in_doubt(monkeypatch)
    async with running_node(cfg) as (node, _api):
        s = node.settler
        assert node.mirror.doubt.held and s.adopted == 0  # (its orders closed: not adoptable)
        marking = next(t for t in node._tasks if t.get_name() == "unread rows")
        await wait_for(lambda: statuses(cfg.db).get(first.tx_hash) == "dropped", timeout=30)
        lock = locked_db(cfg.db)
        try:
            proven(node.mirror.doubt)

            def refused() -> bool:  # (the first's mark, on the lock past the busy timeout)
                return marking.done() or MARK_REFUSED in caplog.text

            await wait_for(refused, timeout=60)
        finally:
            lock.rollback()
            lock.close()
        await wait_for(lambda: statuses(cfg.db).get(first.tx_hash) == "mined", timeout=30)
        assert not marking.done() or marking.exception() is None
    rows = statuses(cfg.db)
    assert rows == {first.tx_hash: "mined", again.tx_hash: "dropped"}, rows
