"""review85: a store refusal while a held start (doubt83) ends its hold (doubt83's leftover:
"an error in the hold task keeps matching held for ever"): checked, not a defect here.

``_judge_held`` logs any error on its way and keeps the hold (no retry, nothing said but the
start's reason). A refused write is not such an error: with another connection holding the
store's write lock past the writer's busy timeout while the held orders are judged and the
last run's landed row is marked, the writer logs "database is locked" and the hold ends all
the same; the remainders are matched and settled. Real chain of the suite's engine, a real
node on its SQLite store restarted behind real loopback proxies (a doubt at the start, reads
by block hash and the orders' reads refused till the test opens them), another SQLite
connection holding the write lock."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.heldstart import first_run, held_reads, left_row, states_selector
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_chaos69_refused_row import write_locked
from tests.test_node import E6
from tests.test_review66_adopt_landed import OPERATOR

pytestmark = pytest.mark.usefixtures("quick_doubt_reads")  # (the hold, not the start's tries)

SAID = ("not judged", "refused", "database is locked")
"""What the node logs when the row's mark is refused (before: the hold's error)."""


async def test_a_refused_mark_of_a_landed_row_does_not_keep_the_hold_for_ever(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A row of the last run mined above the saved head; the start holds; the store's write
    lock is taken before the held orders are read and kept till a write is refused (or the
    hold ends); the hold ends and the remainders are settled. Passes before and after."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    head = await first_run(c, cfg, 8511)
    resting, incoming, tx = await left_row(c, cfg, 2, 8512)  # (half of each)
    c.rpc.call("eth_sendRawTransaction", tx.raw)  # (mined before the start, above the head)
    with held_reads(c.rpc.url, head, states_selector(c, resting)) as (url, gate, doubts):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            s = node.settler
            assert doubts == ([1], [1]) and node.held_why()
            await wait_for(node.replayed, timeout=60)
            async with write_locked(node, cfg.db):
                gate.set()

                def refused_or_ended() -> bool:
                    text = caplog.text.lower()
                    return any(w in text for w in SAID) or not node.held_why()

                await wait_for(refused_or_ended, timeout=60)
            await wait_for(lambda: not node.held_why(), timeout=60)  # (before: held for ever)

            async def filled() -> bool:  # (the remainders matched again and settled)
                statuses = {await api.status(resting), await api.status(incoming)}
                return statuses == {"filled"} and s.idle.is_set() and not s.in_flight

            await wait_for(filled, timeout=60)
            assert s.failed == 0
            assert c.exchange.order_info(incoming.order).filled == 6000 * E6
