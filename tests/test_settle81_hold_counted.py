"""settle81: a doubt's hold of a settlement's wait is counted from before the doubt began.

adopt79 bounded the wait's sends of a settlement's bytes again (the chain asked does not
know them) by ``HELD_SEND_MAX``: held longer by a doubt about the chain's identity, its cancel
goes instead (``NonceLane._keep_alive``). The hold was counted from the wait's first check in
the doubt; checks of bytes the chain does not know come 1, 2, 4, 8 s apart, so a doubt begun
right after one was counted up to ``KEEP_EVERY_MAX`` (8 s) short, and bytes held past the
bound went again as it ended: an order of them cancelled on chain meanwhile (a block the
node's mirror had not applied: the withdrawer saw nothing), they were mined and reverted,
the operator paying. Now the hold is counted from the last check that found no doubt.

Real Hardhat, the node's settler with its own SQLite store, a real proxy on loopback dropping
the settlement's sends (``tests.rpcfault.dropping_proxy``), the node's ``ChainDoubt`` raised
and proven as the watcher does."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.settlement import lane
from sdex.settlement.receipts import KEEP_EVERY_MAX
from sdex.settlement.take import WITHDRAWN_WHY
from tests.conftest import Chain
from tests.droppedsends import dropping_settler
from tests.nodeutil import wait_for
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import WHY
from tests.test_settlement_fallback import pair

BOUND = 6.0
"""``HELD_SEND_MAX``, shortened: the doubt below holds the wait's checks past it from its
start, not from its first check in it (``LATE`` before it ends)."""
HELD = 4.0
"""Seconds the second test's doubt stands (within ``HELD_SEND_MAX``, 30 s)."""
LATE = 4.0
"""Seconds the doubt stands past the wait's first check in it (due ``KEEP_EVERY_MAX`` after
the check before it: room for a loaded machine's late check)."""


async def test_a_doubt_begun_between_two_checks_counts_from_before_it(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement whose sends the endpoint drops; its wait's checks send its bytes again at
    1, 3 and 7 s, the next due 8 s later. A doubt begins right after the third; its resting
    order is cancelled on chain meanwhile (the settler has no withdrawer: as a node whose
    mirror has not applied that block); the doubt ends ``LATE`` after the next check was due,
    the endpoint taking sends again. Held ~12 s, past the bound: its cancel takes the nonce,
    its bytes are not sent again, its match fails counted against neither order (before:
    counted ~4 s from the check in the doubt, its bytes sent again, mined and reverted, the
    operator paying for it: failed 3 of 3)."""
    monkeypatch.setattr(lane, "HELD_SEND_MAX", BOUND)
    async with dropping_settler(chain, tmp_path) as d:
        s, results, doubt, operator, before = d.s, d.results, d.doubt, d.operator, d.before
        m = pair(d.c, 0)
        s.submit([m])
        await wait_for(lambda: len(d.dropped) >= 4, 30)  # (sent; again at 1, 3 and 7 s)
        (tx,) = s.in_flight
        loop = asyncio.get_running_loop()
        began = loop.time()
        doubt.said(WHY)  # (the next check comes ``KEEP_EVERY_MAX`` after the last)
        maker = chain.index_of(m.resting.order.maker)
        chain.exchange.cancel_order(chain.sender(maker), m.resting.order)
        past = began + KEEP_EVERY_MAX + LATE
        await wait_for(lambda: loop.time() > past, 30)
        assert results == [] and counts(chain, operator) == before
        await d.cancelled("not sent again (held")
        mined = chain.rpc.call("eth_getTransactionReceipt", tx)
        assert mined is None, f"its bytes were sent again: status {mined['status']}"
    assert counts(chain, operator) == (before[0] + 1,) * 2  # (the cancel, at its nonce)


async def test_bytes_resent_after_a_doubt_look_at_the_blocks_first(
    chain: Chain, tmp_path: Path
) -> None:
    """Within the bound: a doubt of a few seconds holds the wait of a settlement whose sends
    the endpoint drops; in it, its resting order is cancelled on chain, a block the watcher
    applies at its next look (``presend``, the watcher's ``before_send``: here, the
    withdrawer told of the cancel). The first send of its bytes after the doubt looks first:
    its cancel goes instead, its match fails counted against neither order (before: its
    bytes sent again on the withdrawer's old word, mined and reverted, the operator paying:
    failed 3 of 3)."""
    cancelled: set[bytes] = set()
    applied_next: set[bytes] = set()  # (mined, not applied yet: the watcher's next look)

    async def presend() -> None:  # (the watcher's: the blocks it knows of applied)
        cancelled.update(applied_next)

    async with dropping_settler(chain, tmp_path) as d:
        s, results, doubt, operator, before = d.s, d.results, d.doubt, d.operator, d.before
        s.presend = presend
        s.withdrawn = lambda batch: {
            i: WITHDRAWN_WHY
            for i, m in enumerate(batch)
            if not cancelled.isdisjoint((m.resting.hash, m.incoming.hash))
        }
        m = pair(d.c, 0)
        s.submit([m])
        await wait_for(lambda: len(d.dropped) >= 2, 30)  # (sent; again at 1 s, next at 3 s)
        (tx,) = s.in_flight
        loop = asyncio.get_running_loop()
        began = loop.time()
        doubt.said(WHY)
        maker = chain.index_of(m.resting.order.maker)
        chain.exchange.cancel_order(chain.sender(maker), m.resting.order)
        applied_next.add(m.resting.hash)
        await wait_for(lambda: loop.time() > began + HELD, 30)  # (its 3 s check held)
        assert results == [] and not cancelled
        await d.cancelled("not sent again (")
        mined = chain.rpc.call("eth_getTransactionReceipt", tx)
        assert mined is None, f"its bytes were sent again: status {mined['status']}"
    assert counts(chain, operator) == (before[0] + 1,) * 2  # (the cancel, at its nonce)
