"""A restart in a chain doubt adopting the row the previous run left pooled (adopt79,
doubt80, doubt81): its set-up and its end, the row mined once.

Real chain of the suite's engine, its mining on the send turned off (``pooling``: the first
run's settlement pools), a real ``sdex node`` process killed by its PID
(``tests.test_reconcile77_too_high.pooled_and_killed``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_node import E18
from tests.test_reconcile77_too_high import pending_rows, pooled_and_killed
from tests.test_review73_reset_start import _statuses
from tests.test_review74a_flapped_head import _saved_head


async def pooled_row(
    c: Chain, db: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[SignedOrder, int, str, int]:
    """The first run's settlement pooled, the node killed; a restart's receipt wait short
    (1 s). The resting ask, the operator's count before, the pending row, the saved head."""
    maker, count = await pooled_and_killed(c, db, None)
    (row,) = pending_rows(db)
    assert c.rpc.call("eth_getTransactionByHash", row)["blockNumber"] is None  # (pooled)
    head = _saved_head(db)
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 1.0)
    return maker, count, row, head


async def doubt_ended(node: Node) -> None:
    """Till the doubt ends with the row adopted (or, as before the fixes, a match sent
    again), nothing being sent."""
    s = node.settler

    def proven() -> bool:  # (before: its orders matched again, the second sent)
        out = s.adopted == 1 or s.sent >= 1
        return node.mirror.doubt.held == "" and out and not s.sends

    await wait_for(proven, timeout=60)


def mined_once(c: Chain, db: Path, row: str, maker: SignedOrder) -> None:
    """The row mined, not reverted; ``maker``'s order filled; its row ``mined``, the only one."""
    assert c.rpc.call("eth_getTransactionReceipt", row)["status"] == "0x1"
    assert c.exchange.order_info(maker.order).filled == E18
    assert _statuses(db) == ["mined"]
