"""users83: every wallet order's verdict is due ``ANSWER_WITHIN`` from its POST's arrival.

user81 counted a held order's verdict (the mirror replaying) from its POST's arrival. An
order not held (the mirror ready, a first-seen account: a chain read of its own) still had
the read's 8 s (``READ_DEADLINE``) from the read's start: one that waited before it was
answered that much past the wallet client's 10 s (``sdex.client.DEFAULT_TIMEOUT``, which
counts from its connection), the client gone. Two such waits: its body sent slowly (a
wallet on a slow link), and another order of its account whose first read it waits for
(``Intake._first_reads``), then a read of its own.

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback
holding every ``eth_call`` naming Bob's address (``holding_reads``), a raw TCP client on
loopback sending its body late (``slow_post``).

Its commit after the verdict waited ``store_wait`` (10 s) from the verdict: a stalling
store's 503 ("the node holds order ...; look it up") came past the client's 10 s. Now it ends
by ``commitwait.ANSWER_BY`` (9.5 s) from the arrival (a store stalled by a writer job held
on a ``threading.Event``, as ``test_api_writes``'s). A soft cancel's too."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from sdex.ingest.holds import ANSWER_WITHIN
from sdex.ingest.intake import READ_DEADLINE
from sdex.node.commitwait import ANSWER_BY
from sdex.order import sign_hash
from sdex.watch.changes import STORE_WAIT
from tests.conftest import Chain
from tests.nodeutil import wait_for, writer_stuck
from tests.test_checks75_held_reads import held_node
from tests.test_node import ALICE, BOB, E6, E18, ask, node_with_resting_ask
from tests.test_replay80 import SLACK
from tests.test_user81_held_arrival import slow_post, slow_request

BODY_LATE = 4.0
"""Seconds the slow client sends the second half of its body after its head."""


def _salt() -> int:
    """A salt no earlier run's order of Bob's has (the chain is shared)."""
    return 83_000_000 + time.monotonic_ns() % 10**9


async def test_a_first_seen_orders_verdict_is_due_from_its_posts_arrival(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with held_node(c, tmp_path / "n.db", c.address(BOB)) as (node, api, proxy):
        signed = c.sign(ask(c, BOB, E18, 3200 * E6, salt=_salt()))
        began = time.monotonic()
        code, body = await slow_post(api.base, signed, BODY_LATE)
        took = time.monotonic() - began
        assert proxy.held >= 1 or node.intake.late == 1  # (its read asked, and held)
        assert code == 503 and "try again" in str(body), body  # (nothing taken)
        # (was BODY_LATE + READ_DEADLINE: 12 s; the client gives up 10 s after it connected)
        assert BODY_LATE < took <= ANSWER_WITHIN + SLACK, took
        proxy.release.set()
        await wait_for(lambda: proxy.held == 0, 60)
        assert (await api.post_order(signed))[0] == 201  # (posted again: taken now)


async def test_an_order_behind_its_accounts_first_read_is_due_from_its_arrival(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with held_node(c, tmp_path / "n.db", c.address(BOB)) as (_node, api, proxy):
        first = c.sign(ask(c, BOB, E18, 3200 * E6, salt=_salt()))
        ahead = asyncio.ensure_future(api.post_order(first))
        await wait_for(lambda: proxy.held == 1, 30)  # (the account's first read, held)
        second = c.sign(ask(c, BOB, E18, 3300 * E6, salt=_salt() + 1))
        began = time.monotonic()
        code, body = await api.post_order(second)  # (waits for the first's read, then its own)
        took = time.monotonic() - began
        assert code == 503 and "try again" in str(body), body
        # (was up to 2 x READ_DEADLINE: the first's read's 8 s, then its own read's 8 s)
        assert took <= ANSWER_WITHIN + SLACK < 2 * READ_DEADLINE, took
        async with asyncio.timeout(60):
            assert (await ahead)[0] == 503
        proxy.release.set()
        await wait_for(lambda: proxy.held == 0, 60)
        for signed in (first, second):  # (posted again: taken now)
            assert (await api.post_order(signed))[0] == 201


async def test_an_orders_commit_wait_ends_by_its_answers_due_time(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, _resting):
        await wait_for(node.replayed, 60)
        posted = c.sign(ask(c, ALICE, E18 // 10, 400 * E6, salt=_salt()))  # (rests: no read)
        with writer_stuck(node):
            began = time.monotonic()
            code, body = await slow_post(api.base, posted, BODY_LATE)
            took = time.monotonic() - began
        assert code == 503 and body.get("orderHash") == posted.hash_hex, (code, body)
        assert "look it up" in str(body["reason"]), body  # (held, not stored yet)
        # (was BODY_LATE + STORE_WAIT: 14 s; the client gives up 10 s after it connected)
        assert BODY_LATE < took <= ANSWER_BY + SLACK < BODY_LATE + STORE_WAIT, took
        code, body = await api.post_order(posted)  # (its row committed once the store moved)
        assert code == 200, (code, body)


async def test_a_cancels_commit_wait_ends_by_its_answers_due_time(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        await wait_for(node.replayed, 60)
        sig = sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE])
        body = json.dumps({"signature": "0x" + sig.hex()}).encode()
        path = f"/v1/orders/{resting.hash_hex}/cancel"
        with writer_stuck(node):
            began = time.monotonic()
            code, answer = await slow_request(api.base, path, body, BODY_LATE)
            took = time.monotonic() - began
        assert code == 503 and "stalls" in str(answer), (code, answer)
        # (was BODY_LATE + STORE_WAIT: 14 s; the client gives up 10 s after it connected)
        assert BODY_LATE < took <= ANSWER_BY + SLACK < BODY_LATE + STORE_WAIT, took
        code, answer = await api.post(path, {"signature": "0x" + sig.hex()})  # (stored now)
        assert code == 200 and isinstance(answer, dict), (code, answer)
        assert answer["status"] == "cancelled", answer
