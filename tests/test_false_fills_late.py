"""Fills stored from a receipt or a peer's notice after the watcher applied another block at
their height (``OwnReceipts.late``), and those of receipts a devnet's rewind dropped, are
deleted, however the store answers at first (``sdex.watch.falsefills``). Real Hardhat, a real
node on loopback, real SQLite (a refusal is injected into one store call, as in
tests/test_reorg_reset.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from sdex.chain import FillEvent
from sdex.chain.arpc import AsyncRpc
from sdex.errors import RpcError
from sdex.gossip import NodeKey, PeerClient
from sdex.mirror import Header, Mirror, OwnReceipt
from sdex.store import ChainIdentity, StoreError
from sdex.watch import BlockChanges, fork
from sdex.watch import own as own_module
from sdex.watch.falsefills import LATE_READS, late_fills
from sdex.watch.own import OwnBelow
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import held_ask
from tests.test_hostile import _raw_signed_post, addressee
from tests.test_mirror import synced
from tests.test_mirror_lag import settled_past_the_watcher
from tests.test_node import ALICE, BOB, E6, E18
from tests.test_reorg_false_fills import Reverted, forget_nonces, on_chain, stored


class ReceiptGate:
    """Holds ``node``'s read of ``tx``'s receipt, once it has the chain's answer, until
    ``release``: what the node does with it comes after whatever the test does meanwhile."""

    def __init__(self, node: Any, tx: str) -> None:
        self.read, self.gate = asyncio.Event(), asyncio.Event()
        real = node.rpc.call

        async def call(method: str, *params: Any) -> Any:
            out = await real(method, *params)
            if method == "eth_getTransactionReceipt" and str(params[0]).lower() == tx.lower():
                self.read.set()
                await asyncio.wait_for(self.gate.wait(), 60)
            return out

        node.rpc.call = call

    def release(self) -> None:
        self.gate.set()


def applied_at(node: Any, c: Chain, number: int) -> bool:
    """The node's watcher has applied and saved the chain's block ``number`` (or later)."""
    a = node.watcher.applied
    return (
        a is not None
        and a.number >= number
        and a.hash == c.rpc.call("eth_getBlockByNumber", hex(a.number), False)["hash"].lower()
    )


@pytest.mark.parametrize("mined", [2, 140], ids=["in-the-window", "past-the-window"])
async def test_a_notice_read_before_a_reorg_and_noted_after_the_new_branch_is_deleted(
    chain: Chain, tmp_path: Path, mined: int
) -> None:
    """A peer's notice of Bob's fill in block n+1: its receipt read, then the chain goes back
    to n and mines ``mined`` other blocks, which the watcher applies; only then are the
    notice's fills stored (block n+1, not the chain's). The next poll deletes them (said
    ``reverted``), the order open: within the reorg window from the kept block's fills,
    past it (more than ``Mirror.depth`` = 128 blocks since) from the chain's header."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        resting, hold = await held_ask(c, node, api)
        n = c.weth.approve(c.sender(ALICE), c.exchange.address, E18).block_number
        await hold.inside(n)
        snap = str(c.rpc.call("evm_snapshot"))
        mined_tx = c.exchange.fill_order(c.sender(BOB), resting, 300 * E6)
        assert mined_tx.block_number == n + 1
        gate = ReceiptGate(node, mined_tx.tx_hash)
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        body = json.dumps({"txHash": mined_tx.tx_hash}).encode()
        notice = asyncio.create_task(
            _raw_signed_post(peer, api.base, "/p2p/settlements", body, addressee(node))
        )
        await asyncio.wait_for(gate.read.wait(), 20)

        assert c.rpc.call("evm_revert", snap) is True  # block n+1 is another one now
        forget_nonces(c)
        c.rpc.call("hardhat_mine", hex(mined))
        hold.release()
        await wait_for(lambda: applied_at(node, c, n + mined), timeout=30)
        reverted = Reverted(node)
        gate.release()
        assert await asyncio.wait_for(notice, 20) == 200

        await wait_for(lambda: reverted.txs == [mined_tx.tx_hash.lower()], timeout=20)
        assert stored(node, [resting]) == [] == on_chain(c, [resting])
        await synced(node, c)
        code, rec = await api.get(f"/v1/orders/{resting.hash_hex}")
        assert code == 200 and rec["metaData"]["status"] == "open"


async def test_a_rewind_deletion_the_store_refuses_is_tried_again(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain rewound below the node's own settlement, nothing mined since: the receipt
    is dropped and its fills' deletion refused once by the store. The next poll deletes
    them (said ``reverted``) though the receipt is gone from the mirror by then. Automine
    off: the orders' new settlement waits unmined, so no later block's check does it."""
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 1.0)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", new_heads=False)) as (node, api):
        hold, snap, resting, taker = await settled_past_the_watcher(c, node, api)
        orders = [resting, taker]
        first = stored(node, orders)
        assert len(first) == 2
        reverted = Reverted(node)
        refused = {"n": 0}
        real = node.store.remove_fills_except

        async def refuse_once(low: int, high: int, keys: Any, txs: Any = None) -> Any:
            if txs is not None and refused["n"] == 0:
                refused["n"] += 1
                raise StoreError("database is locked (injected)")
            return await real(low, high, keys, txs)

        monkeypatch.setattr(node.store, "remove_fills_except", refuse_once)
        assert c.rpc.call("evm_revert", snap) is True
        forget_nonces(c)
        c.rpc.call("evm_setAutomine", False)
        try:
            hold.release()  # nothing mined
            await wait_for(lambda: refused["n"] == 1, timeout=30)
            await wait_for(lambda: set(reverted.txs) == {t for t, _, _ in first}, timeout=30)
            assert stored(node, orders) == [] == on_chain(c, orders)
        finally:
            c.rpc.call("evm_setAutomine", True)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_a_receipt_dropped_then_noted_again_waits_its_own_time(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OwnBelow`` drops a receipt above the chain's head after ``BEHIND_SECONDS``; the same
    transaction noted again (another receipt of it, above the head again) is given its own
    ``BEHIND_SECONDS``, not the dropped one's time."""
    clock = Clock()
    monkeypatch.setattr(own_module, "time", clock)
    c = chain
    m = Mirror(c.exchange, [c.weth.address, c.usdc.address])
    identity = ChainIdentity(31337, c.exchange.address, "0x" + "00" * 32)
    a = "0x" + "02" * 20
    fill = FillEvent(b"\x01" * 32, a, a, 1, 1, a, 0, 10, "0xaa", 0)
    latest = Header(5, "0x" + "05" * 32, "0x" + "04" * 32, 0)

    def note() -> None:
        noted = clock.monotonic()
        m.own.add(OwnReceipt("0xaa", "0x" + "0a" * 32, 10, (fill,), (), frozenset(), "", noted))

    below = OwnBelow()
    note()
    assert below.gone(m, latest, identity) == []
    clock.now = fork.BEHIND_SECONDS + 1
    gone = below.gone(m, latest, identity)
    assert gone == ["0xaa"]
    assert m.drop_own(gone, latest.number) == {fill.order_hash}
    note()  # noted again, at once
    clock.now += 0.1
    assert below.gone(m, latest, identity) == []
    clock.now += fork.BEHIND_SECONDS
    assert below.gone(m, latest, identity) == ["0xaa"]


def _log(block: int, address: str) -> dict[str, Any]:
    return {
        "address": address, "topics": ["0x" + "11" * 32], "data": "0x",
        "blockNumber": hex(block), "transactionHash": "0x" + "22" * 32, "logIndex": "0x0",
    }  # fmt: skip


BAD_LATE_ANSWERS = [
    ("not a list", lambda n, a: {"logs": []}),
    ("an error", lambda n, a: RpcError(-32000, "header not found", None)),
    ("a log without its block", lambda n, a: [{"address": a, "topics": []}]),
    ("a log of another block", lambda n, a: [_log(n + 1, a)]),
    ("a log of another contract", lambda n, a: [_log(n, "0x" + "33" * 20)]),
]


@pytest.mark.parametrize(
    "answer", [a for _, a in BAD_LATE_ANSWERS], ids=[i for i, _ in BAD_LATE_ANSWERS]
)
async def test_a_late_blocks_logs_answered_wrong_fail_the_poll(chain: Chain, answer: Any) -> None:
    """``late_fills`` takes the chain's fills of a late block past the window only from an
    answer that is that block's logs of the Exchange; anything else fails the poll (the block
    stays ``late``: read again with the next)."""
    c = chain
    m = Mirror(c.exchange, [c.weth.address, c.usdc.address])
    m.head = Header(100, "0x" + "64" * 32, "0x" + "63" * 32, 0)
    m.own.add_late(5)
    rpc = AsyncRpc(c.rpc.url)
    try:

        async def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            return [answer(5, m.address) for _ in calls]

        rpc.batch = batch  # type: ignore[method-assign]
        with pytest.raises((ValueError, RpcError)):
            await late_fills(rpc, m, BlockChanges(0, "", 0))
        assert m.own.late == {5}
    finally:
        await rpc.close()


async def test_late_blocks_past_the_window_are_read_a_bounded_batch_a_poll(chain: Chain) -> None:
    """More late blocks than ``LATE_READS``: one batch of ``LATE_READS`` reads (the real
    chain's answers: no fills at those heights), the rest left for the next poll."""
    c = chain
    m = Mirror(c.exchange, [c.weth.address, c.usdc.address])
    head = int(c.rpc.call("eth_blockNumber"), 16)
    m.head = Header(head, "0x" + "64" * 32, "0x" + "63" * 32, 0)
    for n in range(1, LATE_READS + 6):
        m.own.add_late(min(n, head))
    rpc = AsyncRpc(c.rpc.url)
    try:
        want = sorted(m.own.late)[:LATE_READS]
        read = await late_fills(rpc, m, BlockChanges(0, "", 0))
        assert sorted(read) == want and rpc.calls["eth_getLogs"] == len(want)
        assert all(fills == [] for fills in read.values())
    finally:
        await rpc.close()
