"""wait74 (issue 11): a wallet group's orders wait no loop turn more than a lone order's.

At 1,000 orders/s on 8 nodes (two cores) a turn is long, and a wallet group's POST waited a
turn longer at each hop a lone order does not take: a callback that started the group's
task, the signatures' hand-over and its delivery on a crowded loop (the verdict of a spare
core, read only by busy turns, stuck through small ones), the writer's hand-over a turn after
the group's last row, the answer set by a callback on the commit. Here: a crowded loop's
chunk of signatures is checked at once, the cores' verdict is read again by a small turn, a
group is through the intake and its rows with the writer in the turn after its posts, and,
the rule kept, no 2xx comes before an order's own row is committed: a node process killed
the moment its first 2xx are out keeps every order it acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import aiohttp

from sdex.ingest.cores import SpareCore
from sdex.ingest.verify import EcdsaBatcher
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import (
    node_config,
    node_started,
    operator_key,
    running_node,
    stall_writer,
    wait_for,
)
from tests.test_http62_crowded_inline import _at_once
from tests.test_http69_wallet_group import one_turn
from tests.test_node import ALICE, E6, E18, ask
from tests.test_verify import _Readings, _signed


def crowded() -> SpareCore:
    """A core reading that says, every time it is read, that every core is taken (the loop
    thread waited twice as long as it ran since the last reading)."""
    readings = _Readings(*((1_000 * k, 2_000 * k) for k in range(1, 100_000)))
    core = SpareCore(read=readings, interval=0.0)
    core.spare()  # (the first reading: nothing to compare yet)
    assert core.spare() is False
    return core


async def test_a_crowded_loops_chunk_of_signatures_is_checked_at_once() -> None:
    """No core spare: each of a chunk's verdicts (``ecdsa_each``: a wallet group's, a peer's)
    is given as it is asked for, without waiting for the turn's end (before: queued for a
    hand-over that ran them on the loop a turn later, the chunk woken a turn after that)."""
    batcher = EcdsaBatcher(thread_min=1, spare_core=crowded())
    good, other = _signed(1), _signed(2)
    forged = dataclasses.replace(good, order=other.order)
    contract = dataclasses.replace(other, signature=b"\x01" * 100)
    chunk = batcher.ecdsa_each([good, forged, contract, other])
    got = [_at_once(anext(chunk)) for _ in range(4)]  # type: ignore[arg-type]
    assert got == [True, False, None, True]
    await chunk.aclose()
    assert (batcher.inline, batcher.crowded, batcher.handovers) == (3, 3, 0)
    assert not batcher._in_flight and not batcher._pending


async def test_the_cores_are_read_again_by_a_turn_of_few_orders() -> None:
    """A core was spare at the last reading; the machine has filled up since. A turn of
    fewer than ``thread_min`` orders reads the cores again (at most once an interval) and
    checks its order at once (before: only a turn of ``thread_min`` or more read them, so
    the first verdict, spare, held through any run of small turns: each order waited for
    the turn's end and its delivery, two turns, on a crowded loop)."""
    clock = [0.0]
    readings = _Readings((1_000, 0), (2_000, 5_000))
    core = SpareCore(read=readings, clock=lambda: clock[0], interval=1.0)
    assert core.spare() is True
    batcher = EcdsaBatcher(thread_min=4, spare_core=core)
    clock[0] = 1.0  # an interval on: the loop waited 5x what it ran
    assert _at_once(batcher.ecdsa_ok(_signed(3))) is True
    assert (batcher.crowded, readings.reads) == (1, 2)


def all_held(node: Any, orders: list[SignedOrder]) -> bool:
    return all(node.registry.held(o.hash) for o in orders)


async def test_a_crowded_nodes_group_is_taken_and_with_the_writer_the_turn_after_its_posts(
    chain: Chain, tmp_path: Path
) -> None:
    """Posts of one turn (each in its own task, as a turn's requests) on a crowded loop:
    in the turn after (the group's task begun by the first of them) every good order is
    accepted and its row handed to the store's writer, the bad ones refused, and none is
    answered until its row is committed (the writer stalled here); then each gets its own
    answer. Before: four turns more (a callback, a task, the signatures' hand-over and its
    delivery), and the rows handed over a turn after the last."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        first = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 999))
        assert (await api.post_order(first))[0] == 201  # (the maker's account known: no read)
        node.intake.ecdsa.spare_core = crowded()
        good = [c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + i)) for i in range(4)]
        malformed = {**good[0].to_json(), "makerAmount": "-1"}
        expired = c.sign(ask(c, ALICE, E18 // 1000, 4 * E6, expiry=1))
        bodies = [good[0].to_json(), malformed, *(g.to_json() for g in good[1:]), expired.to_json()]
        gate = threading.Event()
        await stall_writer(node, gate, "hold_rows BEFORE INSERT ON orders")
        try:
            groups = node.wallet_group.groups
            tasks = one_turn(node, bodies)
            await asyncio.sleep(0)  # (turn 1: the posts, each in its task, join one group)
            assert node.wallet_group.groups == groups and not all_held(node, good)
            await asyncio.sleep(0)  # (turn 2: the group's task has run before this)
            assert node.wallet_group.groups == groups + 1
            assert all_held(node, good)
            assert not node.store._writer._batch  # (the rows with the writer already)
            assert not any(t.done() for t in tasks)  # (nothing committed: no answer yet)
        finally:
            gate.set()
        answers = await asyncio.wait_for(asyncio.gather(*tasks), 60)
        assert [a.status for a in answers] == [201, 400, 201, 201, 201, 400], answers
        for g in good:
            assert node.store.order_now(g.hash_hex) is not None


def stored_hashes(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {h for (h,) in conn.execute("SELECT hash FROM orders")}


async def test_a_node_process_killed_after_its_first_2xx_keeps_every_acknowledged_order(
    chain: Chain, tmp_path: Path
) -> None:
    """A real ``sdex node`` process takes posts in groups (many in flight at once); it is
    SIGKILLed as soon as 20 of them have been answered 2xx, the rest in flight: every
    order answered 2xx is a row in its database afterwards (a group's 2xx only once the
    order's own row is committed)."""
    c = chain
    deployment, db, log = tmp_path / "devnet.json", tmp_path / "node.db", tmp_path / "node.log"
    c.deployment.save(deployment)
    orders = [c.sign(ask(c, ALICE, E18 // 1000, 5 * E6 + i)) for i in range(400)]
    acked: list[str] = []
    started = node_started(c, deployment, db, operator_key(c, 0), log, timeout=120)
    async with started as (proc, base):
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as s:
            warm = orders[:40]  # (the maker's account read once; groups seen in /health)
            codes = await asyncio.gather(*(post(s, base, o) for o in warm))
            assert codes == [201] * len(warm), codes
            async with s.get(base + "/health") as r:
                assert (await r.json())["chainMirror"]["walletGroups"]["groups"] > 0
            enough = asyncio.Event()

            async def post_and_note(o: SignedOrder) -> None:
                if await post(s, base, o) in (200, 201):
                    acked.append(o.hash_hex)
                    if len(acked) >= 20:
                        enough.set()

            posts = [asyncio.ensure_future(post_and_note(o)) for o in orders[40:]]
            async with asyncio.timeout(60):
                await enough.wait()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            await asyncio.gather(*posts, return_exceptions=True)
    assert len(acked) >= 20
    assert len(acked) < len(orders) - 40, "every post answered: the kill came too late to say"
    missing = set(acked) - stored_hashes(db)
    assert not missing, f"{len(missing)} orders answered 2xx are not stored"


async def post(s: aiohttp.ClientSession, base: str, o: SignedOrder) -> int:
    try:
        async with s.post(base + "/v1/orders", json=o.to_json()) as r:
            await r.read()
            return r.status
    except aiohttp.ClientError:
        return 0
