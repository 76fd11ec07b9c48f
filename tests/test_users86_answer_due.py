"""users86: an order answered 503 because its verdict came due is counted as such, and a
held order's shared read ends by its due time.

users83 made every wallet order's verdict due ``holds.ANSWER_WITHIN`` (9 s) from its POST's
arrival. An order whose answer came due while it waited (for its account's first read, or a
hold) was answered 503 unread, and counted in ``Intake.late`` with the reads the chain did
not answer in time: one count for the chain's slowness and the node's own waits. Now
``late`` counts reads given up, ``overdue`` orders answered unread, both in ``/health``
(``chainMirror.ordersReadLate``, ``ordersAnswerDue``).

A held order's shared read got ``MIN_READ`` (1 s) whatever was left of its 9 s, after the
gather's 0.5 s: one that waited over 8 s before its hold (its body sent slowly) was answered
past its due time. Now the gather ends ``MIN_READ`` before the due time, the read gets what
is left, and an order with less than ``MIN_READ`` left is answered at once, unread.

Real Hardhat (the suite's chain), real nodes and SQLite stores, real proxies on loopback
holding reads (``holding_reads``, ``tests.heldread``), a raw TCP client on loopback sending
its body late (``slow_post``)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from sdex.ingest.holds import ANSWER_WITHIN, GATHER, MIN_READ
from sdex.ingest.intake import READ_DEADLINE
from tests.conftest import Chain
from tests.heldread import held_order_read
from tests.nodeutil import wait_for
from tests.test_checks75_held_reads import held_node
from tests.test_node import BOB, E6, E18, ask
from tests.test_replay80 import SLACK
from tests.test_user81_held_arrival import slow_post


def _salt() -> int:
    """A salt no earlier run's order of Bob's has (the chain is shared)."""
    return 86_000_000 + time.monotonic_ns() % 10**9


async def test_an_order_answered_unread_at_its_due_time_is_not_counted_a_late_read(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with held_node(c, tmp_path / "n.db", c.address(BOB)) as (node, api, proxy):
        first = c.sign(ask(c, BOB, E18, 3200 * E6, salt=_salt()))
        second = c.sign(ask(c, BOB, E18, 3300 * E6, salt=_salt() + 1))
        # the second's POST begins first, its body comes after the first's read is asked
        # (held): it waits for that read, and its answer comes due before that read is
        # given up (READ_DEADLINE from its start), so it is answered unread
        lead = 1.5
        assert lead + READ_DEADLINE > ANSWER_WITHIN
        behind = asyncio.ensure_future(slow_post(api.base, second, lead + 1.5))
        await asyncio.sleep(lead)  # (the second's head sent; not a wait for a condition)
        ahead = asyncio.ensure_future(api.post_order(first))
        await wait_for(lambda: proxy.held == 1, 30)  # (the account's first read, held)
        async with asyncio.timeout(60):
            code, body = await behind
            first_code, _ = await ahead
        assert code == 503 and "before its answer was due" in str(body), body
        assert first_code == 503  # (its read given up at READ_DEADLINE)
        assert (node.intake.late, node.intake.overdue) == (1, 1)  # (before: late 2)
        code, health = await api.get("/health")
        assert isinstance(health, dict)
        mirror = health["chainMirror"]
        assert (mirror["ordersReadLate"], mirror["ordersAnswerDue"]) == (1, 1), mirror
        proxy.release.set()
        await wait_for(lambda: proxy.held == 0, 60)
        for signed in (first, second):  # (posted again: taken now)
            assert (await api.post_order(signed))[0] == 201


async def test_a_held_orders_read_ends_by_its_due_time(chain: Chain, tmp_path: Path) -> None:
    late = ANSWER_WITHIN - 0.8  # (its hold over at once; the gather's end leaves 0.3 s)
    assert ANSWER_WITHIN - late < GATHER + 0.5  # (MIN_READ, 0.5 s, is left after it)
    async with held_order_read(chain, tmp_path, salt=86_000) as held:
        began = time.monotonic()
        code, body = await slow_post(held.api.base, held.signed, late)
        took = time.monotonic() - began
        assert held.node.replay_hold.timed_out == 1  # (held to its bound, then read)
        assert code == 503 and "try again" in str(body), body  # (nothing taken)
        reason = str(body)
        given = re.search(r"within ([0-9.]+) s", reason)
        if given is None:  # (a loaded loop: too little left once its hold ended)
            assert "before its answer was due" in reason, reason
        else:  # (was 1 s, MIN_READ, whatever was left: answered at 9.7 s)
            assert float(given.group(1)) <= ANSWER_WITHIN - late - 0.25, reason
            assert held.read.held.is_set()  # (its read was asked, and hung)
        assert late < took <= ANSWER_WITHIN + SLACK, took
        await held.taken_after_release()


async def test_a_held_order_with_too_little_left_is_answered_at_once_unread(
    chain: Chain, tmp_path: Path
) -> None:
    late = ANSWER_WITHIN - MIN_READ / 2
    async with held_order_read(chain, tmp_path, salt=86_500) as held:
        code, body = await slow_post(held.api.base, held.signed, late)
        assert code == 503 and "before its answer was due" in str(body), body
        assert not held.read.held.is_set()  # (before: read for MIN_READ, past its due time)
        n = held.node
        assert (n.intake.overdue, n.intake.late, n.replay_hold.timed_out) == (1, 0, 1)
        assert n.intake.shared.reads == 0  # (no token spent)
        await held.taken_after_release()
