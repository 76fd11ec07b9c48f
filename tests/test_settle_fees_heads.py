"""The fees a settlement is signed with come from the chain's announced heads (newHeads
carries ``baseFeePerGas``): no ``eth_getBlockByNumber`` on Hardhat's lock a settlement. A
chain that goes back without announcing it (``evm_revert``, a reset) must not leave the
settler signing with a fee of the blocks that are gone. Real Hardhat, a real node; the
fees' lifetime set long (60 s) so that only the announcements and the rewinds decide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.settlement import gas
from sdex.settlement.gas import Fees
from sdex.watch import loop
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import fee_walked_to
from tests.test_settle_fees import TIP, fee_cap, fee_chain, settle_one
from tests.test_settlement_pipeline import trace_calls

__all__ = ["fee_chain"]  # (the loopback chain's fixture, used below)

GWEI = 1_000_000_000


def mine_with_base_fee(c: Chain, base_fee: int) -> dict[str, Any]:
    """A block (empty) whose base fee is ``base_fee``; its header."""
    c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(base_fee))  # (anvil answers null)
    c.rpc.call("evm_mine")
    block: dict[str, Any] = c.rpc.call("eth_getBlockByNumber", "latest", False)
    assert int(block["baseFeePerGas"], 16) == base_fee
    return block


def announced_fee(heads: HeadSignal) -> int | None:
    return None if heads.base_fee is None else heads.base_fee[0]


@pytest.fixture
def long_fees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gas, "FEE_TTL", 60.0)
    monkeypatch.setattr(gas, "FEE_READ_AHEAD", 30.0)


async def test_a_settlement_signs_with_the_announced_heads_base_fee_without_asking(
    chain: Chain, tmp_path: Path, long_fees: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step of the chain's fee within EIP-1559's bounds of the block before (an
    announced fee out of them is not used: watch80), and no safety poll meanwhile (its ask
    of "latest" would give the fee too: watch81, the test passed with the announced fee
    path broken): only the announcement tells the settler the fee it signs with."""
    monkeypatch.setattr(loop, "SUBSCRIBED_POLL", 600.0)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w, heads = node.watcher, node.mirror.announced
        await wait_for(lambda: w.subscribed and w.caught_up.is_set())
        await settle_one(c, node, api)  # (the accounts' first reads, once)
        await fee_walked_to(c, 8 * GWEI, node)  # (whatever came before; each block's rise read)
        start = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: w.applied is not None and w.applied.number >= start)
        asked = trace_calls(node.settler.receipts) if node.settler.receipts else []
        from_heads, refused = node.settler.fees.from_heads, heads.refused
        for step in (5, -5, 4):  # (percent of the fee before: an eighth at most a block)
            before = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
            base = before + before * step // 100
            mine_with_base_fee(c, base)  # (the chain's fee moves, announced, not asked)
            await wait_for(lambda: announced_fee(heads) == base)  # noqa: B023
            tx = await settle_one(c, node, api)
            assert fee_cap(c, tx) == 2 * base + TIP
        latest = [p for m, p in asked if m == "eth_getBlockByNumber" and p[:1] == ["latest"]]
        assert latest == []  # (the settler's client: the fee read, and its receipt polls)
        assert node.settler.fees.from_heads >= from_heads + 3
        assert heads.refused == refused  # (each announced fee within its bounds)


async def test_a_fee_of_blocks_the_chain_went_back_from_is_not_signed_with(
    chain: Chain, tmp_path: Path, long_fees: None
) -> None:
    """``evm_revert`` announces nothing: the fee of the block it took away (announced,
    1 wei) stands for "latest" until the watcher sees the chain's head (100 gwei) and takes
    the rewind (the chain below its head: a reset); a settlement signed with it would be
    refused (its fee cap under the base fee) and lost. The chain's fee walked up to 100 gwei
    first (review96b: the fork block's fee is believed after the rewind only within reach of
    the floor below the fork; a jump to it in one block was refused, and nothing signed)."""
    c = chain
    high, low = 100 * GWEI, 1
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w, heads = node.watcher, node.mirror.announced
        await wait_for(lambda: w.subscribed and w.caught_up.is_set())
        await settle_one(c, node, api)  # (the nonce and the accounts read, once)
        await fee_walked_to(c, high, node)  # (each block's rise read: a jump is refused, review96b)
        back = mine_with_base_fee(c, high)
        on = int(back["number"], 16)
        await wait_for(lambda: w.applied is not None and w.applied.number >= on)
        snap = c.rpc.call("evm_snapshot")
        gone = mine_with_base_fee(c, low)
        await wait_for(lambda: w.chain_head == int(gone["number"], 16))
        # (announced, 1 wei after 100 gwei is out of EIP-1559's bounds, not used: watch80;
        # a poll's ask of the latest block may have read it)
        assert announced_fee(heads) in (None, low)
        assert c.rpc.call("evm_revert", snap) is True  # (the head is `back` again, unannounced)
        await wait_for(lambda: w.chain_head == int(back["number"], 16))  # (its safety poll)
        await wait_for(lambda: w.status == "ok")  # (the chain below our head: a reset, in 5 s)
        lost, failed = node.settler.lost, node.settler.failed
        tx = await settle_one(c, node, api)
        assert fee_cap(c, tx) == 2 * high + TIP
        assert (node.settler.lost, node.settler.failed) == (lost, failed)


async def test_a_rewind_drops_the_fees_read_and_announced_before(
    fee_chain: tuple[str, dict[str, Any]],
) -> None:
    """A reorg or a reset the mirror took (``HeadSignal.rewound``): the next signature
    asks the chain, whatever was read or announced before, however fresh."""
    url, state = fee_chain
    heads, rpc = HeadSignal(), AsyncRpc(url)
    fees = Fees(heads)
    try:
        assert await fees.current(rpc) == (10, TIP)  # (not live: read)
        state["base"] = 20
        assert await fees.current(rpc) == (10, TIP)  # (read 0 s ago)
        heads.rewound()
        assert await fees.current(rpc) == (20, TIP)  # (read before the rewind: read again)
        heads.live = True
        heads.announce("0x" + "11" * 32, 22, 2)  # (within an eighth of block 1's 20: watch80)
        assert await fees.current(rpc) == (22, TIP)  # (announced: no read)
        state["base"] = 40
        heads.rewound()
        assert await fees.current(rpc) == (40, TIP)  # (announced before the rewind: read)
        fees.forget()
        heads.saw(50)  # (the watcher asked "latest" after the failed broadcast)
        assert await fees.current(rpc) == (50, TIP)
    finally:
        fees.close()
        await rpc.close()
