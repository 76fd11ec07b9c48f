"""adopt79: a restart in doubt adopts a pending row the chain it asks does not know.

kept77 made a start's reconcile send nothing again while the chain's identity is in doubt,
and gave a row up that the chain it asked did not know (``Reconcile._unspent``: "never on
any chain"); its orders were matched again once the chain was proven ours. The answers of a
doubt may come from another chain (a backend of another fork or chain behind the URL): the
previous run's bytes, pooled on our chain, landed too, the same matches settled twice (the
second a paid revert). Now such a row is adopted (``pending``, its orders held) and judged
when the doubt ends, as every settlement of the lane is (lost78).

Real chain of the suite's engine, its mining on the send turned off (the first run's
settlement pools), a real ``sdex node`` process killed by its PID, the restart in this
process behind two real proxies on loopback: ``other_chain_proxy`` answering the operator's
count, receipts and transactions by hash as another chain's backend, and ``flapping_proxy``
answering the saved head's block with another hash once (the start's check: in doubt)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.adoptdoubt import doubt_ended, mined_once, pooled_row
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.rpcfault import flapping_proxy, other_chain_proxy
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import (
    mined_and_filled,
    pooling,
)
from tests.test_review73_reset_start import _statuses

__all__ = ["pooling"]  # (reconcile77's fixture: the chain mining only when told)


async def test_a_pooled_row_a_restart_in_doubt_does_not_find_is_adopted(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run's settlement pooled, the node killed; the restart's check of the saved
    head meets another hash (in doubt) and the chain's answers of the row are another
    chain's (no receipt, not known, the count past it). The row is adopted, its orders held
    (before: "dropped", its orders matched again once the chain was proven ours, both
    settlements mined, the second a paid revert: failed 3 of 3); the doubt ends, the pool is
    mined, its matches settle once."""
    c = pooling
    db = tmp_path / "n.db"
    maker, count, row, head = await pooled_row(c, db, monkeypatch)
    with (
        other_chain_proxy(c.rpc.url) as (other_url, other, told),
        flapping_proxy(other_url, head, "0x" + "ef" * 32) as (url, flapped),
    ):
        other.set()  # (the restart's reads of the row: another chain's answers)
        cfg = replace(node_config(c, db, operator=OPERATOR), rpc=url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            other.clear()
            assert flapped == [1] and node.mirror.doubt.doubts == 1  # (in doubt at the start)
            assert told[0] > 0  # (the row's reads met the other chain's answers)
            at_start, adopted = _statuses(db), s.adopted  # (asserted last: both mined before)

            await doubt_ended(node)
            await mined_and_filled(c, node, api, maker, count, timeout=60)
            assert at_start == ["pending"] and adopted == 1, (at_start, adopted)  # ("dropped")
            assert s.sent == 0  # (nothing matched again)
    mined_once(c, db, row, maker)
