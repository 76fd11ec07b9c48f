"""recheck81: a long list of orders due a recheck judged a part a turn of the loop.

A start with 50,000 stored orders due a recheck read ``RECHECK_READS`` of them from the chain;
that read taught the mirror their makers' funds, so at the first block every one left was
judgeable, and that block's ``_persist_open`` judged all ~49,000 in one turn of the loop
(2.2 s CPU: bench/recheck80_block_turns.py), the node answering nothing meanwhile. Now a
list longer than ``RECHECK_PART`` is judged ``RECHECK_PART`` a turn, in passes the blocks
start (``NodeVerdicts._drain_rechecks``), none within a block's apply; an order judged by the
word of a block a reorg then undoes is due again (``_rechecks_undone``).

Real Hardhat (the suite's chain), a real node and SQLite store; the rows are written as a
kill leaves them (``tests/test_replay80.stored_closed``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain import OrderState
from sdex.chain.abi import ContractAbi
from sdex.node import verdicts
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.order import SignedOrder, bitmap_salt
from tests.conftest import Chain
from tests.heldread import state_reads
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import gated_proxy
from tests.test_mirror import revert, synced
from tests.test_node import ask
from tests.test_replay80 import E15, stored_closed

RECHECKED = 600
"""Closed stored orders due a recheck at the start (the chain never filled them)."""
PART = 32
"""``RECHECK_PART`` here: at most this many judged in one turn of the loop."""
READS = 40
"""``RECHECK_READS`` here: the start reads this many, the rest wait for a block."""


def resting(c: Chain, n: int, salt: int) -> list[SignedOrder]:
    """``n`` asks of 4 makers, none on chain."""
    return [c.sign(ask(c, 1 + k % 4, E15, 3_000_000 + k, salt=salt + k)) for k in range(n)]


class Turns:
    """Orders judged again (``_undone_under``: each one reopened) in each turn of the loop."""

    def __init__(self) -> None:
        self.now = 0
        self.turns: list[int] = []
        self.task: asyncio.Future[None] | None = None

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.turns.append(self.now)
            self.now = 0

    @contextmanager
    def counting(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Turns]:
        undone = Node._undone_under

        def counted(node: Node, so: SignedOrder, state: OrderState) -> None:
            self.now += 1
            undone(node, so, state)

        monkeypatch.setattr(Node, "_undone_under", counted)
        self.task = asyncio.ensure_future(self.tick())
        try:
            yield self
        finally:
            self.task.cancel()

    def most(self) -> int:
        return max([*self.turns, self.now])


@asynccontextmanager
async def started_with_rechecks(
    c: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed: list[SignedOrder]
) -> AsyncIterator[tuple[Node, Api, NodeConfig]]:
    """A node started on a store holding ``signed`` closed ``filled`` and due a recheck (as a
    kill leaves them), with ``PART`` and ``READS``: most of them still due once started."""
    monkeypatch.setattr(verdicts, "RECHECK_PART", PART)
    monkeypatch.setattr(verdicts, "RECHECK_READS", READS)
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg):
        pass  # (the store made: its schema, its chain)
    stored_closed(cfg.db, signed)
    async with running_node(cfg) as (node, api):
        yield node, api, cfg


def branched(c: Chain, snap: str) -> None:
    """The chain back to ``snap``, then a longer branch whose first block differs from the
    one undone (its stamp later: an empty block of the same stamp has the same hash)."""
    stamp = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    revert(c, snap)
    c.rpc.call("evm_setNextBlockTimestamp", stamp + 5)
    c.rpc.call("evm_mine")
    c.rpc.call("evm_mine")


async def mined_till_judged(c: Chain, node: Node) -> None:
    """Blocks mined, each applied by ``node``, till no order is due a recheck (bounded)."""
    for _ in range(40):
        await asyncio.to_thread(c.rpc.call, "hardhat_mine", "0x1")
        await synced(node, c)
        try:
            await wait_for(lambda: not node._recheck, timeout=3)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{len(node._recheck)} orders still due a recheck")


async def test_a_long_recheck_list_is_judged_a_part_a_loop_turn(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    signed = resting(c, RECHECKED, 810_000)
    with Turns().counting(monkeypatch) as turns:
        async with started_with_rechecks(c, tmp_path, monkeypatch, signed) as (node, api, _):
            left = len(node._recheck)
            assert left > PART, left  # (the start read ``READS``: the rest wait for a block)
            await mined_till_judged(c, node)
            # (was every order left, ~560, judged in the first block's one turn)
            assert turns.most() <= PART, turns.most()
            assert sum(turns.turns) + turns.now >= RECHECKED  # (each one reopened)
            statuses = Counter([await api.status(s) for s in signed[:: RECHECKED // 30]])
            assert "filled" not in statuses, statuses  # (the chain never filled them)

            async def rows_gone() -> bool:  # (no row kept: a restart judges nothing again)
                return not await node.store.rechecks()

            await wait_for(rows_gone, timeout=30)


async def test_orders_judged_by_a_block_a_reorg_undid_between_parts_are_judged_again(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reorg arriving between two parts of a pass (the chain taken back below the block the
    first part was judged at): every order judged by that block's word is judged again, by
    the new branch's; none is left due, none left ``filled``."""
    c = chain
    signed = resting(c, RECHECKED, 820_000)
    judged: list[tuple[bytes, int]] = []
    note = Node._judged_at

    def noted(node: Node, h: bytes, at: int) -> None:
        judged.append((h, at))
        note(node, h, at)

    monkeypatch.setattr(Node, "_judged_at", noted)
    judge_part = Node._recheck_part
    below: list[int] = []  # (the head the test's block is mined on: none judged till then)
    undone: list[int] = []

    def part(node: Node, hashes: Iterable[bytes], read: Mapping[bytes, OrderState]) -> bool:
        if not below:
            return False  # (left due)
        some = judge_part(node, hashes, read)
        head = node.mirror.head
        if some and not undone and node._recheck and head is not None and head.number > below[0]:
            undone.append(head.number)  # (the chain taken back now, before the next part)
            branched(c, snap)
        return some

    monkeypatch.setattr(Node, "_recheck_part", part)
    async with started_with_rechecks(c, tmp_path, monkeypatch, signed) as (node, api, _):
        await synced(node, c)
        assert len(node._recheck) == RECHECKED, len(node._recheck)
        snap = str(c.rpc.call("evm_snapshot"))
        below.append(int(c.rpc.call("eth_blockNumber"), 16))
        await asyncio.to_thread(c.rpc.call, "hardhat_mine", "0x1")
        await wait_for(lambda: bool(undone), timeout=60)
        await synced(node, c)
        assert node.watcher.reorgs >= 1
        await mined_till_judged(c, node)
        first = {h for h, at in judged if below[0] < at <= undone[0]}
        assert first, judged[-3:]  # (a part judged by the word of the block the reorg undid)
        times = Counter(h for h, _ in judged if h in first)
        assert all(times[h] >= 2 for h in first), sum(times[h] < 2 for h in first)
        statuses = Counter([await api.status(s) for s in signed[:: RECHECKED // 30]])
        assert "filled" not in statuses, statuses


async def test_an_evicted_order_due_a_recheck_is_read_from_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    """An order due a recheck whose record was evicted from memory (closed, past its grace)
    and whose state the mirror cannot give (a bitmap order: the mirror never judges those)
    is read from the chain with the others (``_read_rechecks``), and judged: it was skipped,
    and stayed due till some other look happened to load it."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg):
        pass  # (the store made: its schema, its chain)
    (bitmap,) = [c.sign(ask(c, 2, E15, 3_000_000, salt=bitmap_salt(830_000)))]
    stored_closed(cfg.db, [bitmap], due=False)  # (closed ``filled``: held as stored only)
    async with running_node(cfg) as (node, api):
        await synced(node, c)
        h = bitmap.hash
        assert h not in node.records and node.registry.held(h)  # (evicted: its row only)
        assert node.mirror.state(bitmap) is None
        node._recheck.add(h)  # (as a block that touched it while a fill of it was in flight)
        read = await node._read_rechecks()
        assert h in read, len(read)  # (was skipped: no record in memory)
        node._persist_open(read)
        assert h not in node._recheck
        assert await api.status(bitmap) == "open"  # (the chain never filled it)


async def test_a_starts_read_of_its_rechecks_past_its_wait_is_tried_again(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's read of the orders a kill left due a recheck answered past its wait (a
    loaded machine: replay80's start test fails so, its 600 orders left due): read again,
    and every one judged at the start. They had stayed due, closed ``filled`` as the kill
    left them, till a block came (an idle chain's may not). A real proxy on loopback holds
    the first ``getOrderStates`` read (``tests/rpcfault.py``)."""
    c = chain
    monkeypatch.setattr(verdicts, "RECHECK_READ_WAIT", 1.0)
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg):
        pass  # (the store made: its schema, its chain)
    signed = resting(c, 40, 840_000)
    stored_closed(cfg.db, signed)
    selector = "0x" + ContractAbi.load("Exchange").fn("getOrderStates").selector.hex()
    read = state_reads(selector)
    read.armed.set()  # (the first read held: past the 1 s wait)
    with gated_proxy(c.rpc.url, [read]) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert read.held.is_set()
            assert not node._recheck, len(node._recheck)  # (was 40: the read given up)
            statuses = Counter([await api.status(s) for s in signed])
            assert statuses == {"open": len(signed)}, statuses  # (the chain never filled them)
