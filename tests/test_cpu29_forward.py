"""``forwardTiming`` with the clocks read once per peer's chunk (cpu29, issue 11): a peer's
order handed over is counted without a clock (``passed_on``), the chunk's end read once after
its last (``mark``); which of gossip's turns took an order is known by its count, not by a
clock; what ``/health`` reports stays true."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sdex.node.forwarding import ForwardTiming
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import CAROL, E6, E18, ask


class Counted:
    """A clock that counts its reads."""

    def __init__(self, clock: object = time.perf_counter) -> None:
        self.clock, self.reads = clock, 0

    def __call__(self) -> float:
        self.reads += 1
        return self.clock()  # type: ignore[operator,no-any-return]


def test_a_chunk_reads_its_end_once_however_many_it_passed_on() -> None:
    cpu, wall = Counted(lambda: 1.0), Counted(lambda: 2.0)
    fw = ForwardTiming(wall_clock=wall, cpu_clock=cpu, queue_clock=lambda: 0.0)
    started = (0.5, 1.0, 0.0)
    for _ in range(5):
        fw.passed_on()
    assert (cpu.reads, wall.reads) == (0, 0)
    ended = fw.mark(fw.handed)
    assert (cpu.reads, wall.reads) == (1, 1) and ended == (1.0, 2.0, 5)
    fw.add("peer", started, ended, 5)
    out = fw.to_json()["peer"]
    assert out["orders"] == 5 and out["cpuS"] == 0.5 and out["wallS"] == 1.0
    assert fw.last() == ended


async def test_orders_gossip_took_before_the_chunk_read_its_clocks_are_written_next_turn() -> None:
    """The chunk's last order went to gossip's core (``spawned``) before its end was read (a
    later copy's verdict awaited meanwhile): by the count its pushes are written in the turn
    after (a clock read after the spawn would have waited for a spawn that never comes)."""
    now = {"t": 0.0}
    fw = ForwardTiming(lambda: now["t"], lambda: now["t"], lambda: 0.0)
    started = fw.start()
    fw.passed_on()
    through = fw.handed
    fw.spawned()  # (gossip's turn ended: the order is with its core, pushes written next)
    await asyncio.sleep(0)  # (that next turn: written, nothing of this call's yet)
    assert fw._due is None
    now["t"] = 3.0
    ended = fw.mark(through)
    fw.add("peer", started, ended, 1)
    out = fw.to_json()["peer"]
    assert out["orders"] == 1 and out["sentWallS"] == 3.0  # (written already: now)
    assert not fw.open["peer"] and not fw.spawning["peer"]


async def test_a_real_nodes_peer_chunk_reads_its_end_once_and_reports_every_order(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node: a peer's chunk of six new orders reads the CPU clock once past its start
    (before: once per order); ``forwardTiming`` counts all six, its times positive."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        fw = node.forwarding
        fw.every = 1  # (every call timed: tests/test_cpu30_sample.py samples)
        cpu, queue = Counted(time.thread_time), Counted(fw.queue_clock)
        fw.cpu_clock, fw.queue_clock = cpu, queue
        chunk = [c.sign(ask(c, CAROL, E18 // 100, (500 + i) * E6)) for i in range(6)]
        await node.submit_many_from_peer(
            [c.sign(ask(c, CAROL, E18 // 100, E6)).to_json()], "ab" * 32
        )
        cpu.reads = queue.reads = 0
        got = await node.submit_many_from_peer([s.to_json() for s in chunk], "ab" * 32)
        assert got == ["accepted"] * 6
        assert cpu.reads - queue.reads == 1  # (``start`` reads both; ``mark`` the CPU alone)
        _, health = await api.get("/health")
        peer = health["forwardTiming"]["peer"]
        assert peer["orders"] == 7 and fw.handed == 7
        assert peer["cpuS"] > 0 and peer["wallS"] > 0


async def test_a_turn_whose_pushes_no_timed_call_waits_for_reads_no_clock() -> None:
    """Gossip spawned pushes of orders no intake call timed (a re-announcement, a peer's
    single copy): the turn after reads no clock (before: all three, the run-queue file's
    read among them)."""
    cpu, queue = Counted(lambda: 0.0), Counted(lambda: 0.0)
    fw = ForwardTiming(lambda: 0.0, cpu, queue)
    fw.passed_on()
    fw.spawned()
    assert fw._due is not None
    await asyncio.sleep(0)
    assert fw._due is None and (cpu.reads, queue.reads) == (0, 0)
    started = fw.start()  # a timed call after it is still written in its pushes' turn
    fw.passed_on()
    fw.add("peer", started, fw.mark(fw.handed), 1)
    fw.spawned()
    await asyncio.sleep(0)
    assert fw.to_json()["peer"]["orders"] == 1 and queue.reads == 2
