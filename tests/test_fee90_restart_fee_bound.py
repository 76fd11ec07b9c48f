"""fee90 (review89's left): at a restart the node's first fee bound was still the deploy
block's fee (``sdex.node.core``'s start), its only placed read. On a deployment more than a
hundred blocks or so older than the saved head, EIP-1559's bounds from that fee hold every
fee up to the ceiling (``sdex node --max-base-fee``, 100,000 gwei by default): a lying
endpoint's fee was believed, kept as the bound of the next reads, and signed with, during
the catch-up (``HeadSignal._catching_up``) and by fee86's bound past the head known.

Now the saved head, once the start proves it ours by its hash (``sdex.watch.fork.check_head``),
has its block's fee read as a placed read: the bound of the start is the saved head's. A fee
that rose while the node was down is within EIP-1559's reach of it by the blocks mined since
(the chain's head as the start read it, ``HeadSignal.start_head``): the settler's read while
the node catches up (the start's reconcile judging and re-pricing its pooled rows) counts
them, up to that head.

Real Hardhat (``hardhat_mine``: the deployment 10,000 blocks back), a real node in this
process stopped and started again on its SQLite store behind a real loopback proxy rewriting
the latest block's fee (``tests.test_bounds84_base_fee.fee_lying``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.feebounds import FEE_STEPS
from sdex.chain.headsignal import HeadSignal, base_fee_of
from sdex.chain.tx import MAX_BASE_FEE, fees_for
from sdex.errors import ChainError
from sdex.settlement.gas import Fees
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import base_fee_kept, fee_walked_to
from tests.startheads import ran_to_head
from tests.test_bounds84_base_fee import Lying, fee_lying, posted_pair
from tests.test_reorg63_replaced_restart import FEES, OPERATOR, stored_pair

OLD = 10_000
"""Blocks mined between the deployment and the saved head (empty: the fee falls to 7 wei)."""
RISE = 24
"""Blocks mined while the node is down, each's base fee an eighth over its parent's (the
most EIP-1559 lets it rise: ~17 times over)."""


def _block(c: Chain, number: int | str) -> dict[str, object]:
    raw = c.rpc.call(
        "eth_getBlockByNumber", number if isinstance(number, str) else hex(number), False
    )
    assert isinstance(raw, dict), raw
    return raw


def _fee(raw: dict[str, object]) -> int:
    fee = base_fee_of(raw)
    assert fee is not None, raw
    return fee


async def test_a_restart_on_an_old_deployment_never_signs_a_lied_fee(
    chain: Chain, tmp_path: Path
) -> None:
    """The chain idle while the node is down; at the start every read of the latest block says
    its fee is the ceiling (``MAX_BASE_FEE``). (main: bounded by the deploy block's fee 10,000
    blocks back, the lie was believed at the catch-up's first poll and kept: the pair was
    signed with it.)"""
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        c.rpc.call("hardhat_mine", hex(OLD))
        top = await ran_to_head(c, db)
        assert _fee(top) < 10**6  # (the fee fell while the blocks were empty)
        state = Lying(lie=lambda fee, n: MAX_BASE_FEE)
        with fee_lying(c.deployment.rpc, state) as rpc:
            cfg = replace(node_config(c, db), rpc=rpc, new_heads=False)
            async with running_node(cfg) as (node, api):
                heads = node.mirror.announced
                pair = await posted_pair(c, api)
                await wait_for(lambda: state.lies >= 12 or state.signed, 60)
                # main: the pair signed with the lie (a fee cap of twice the ceiling)
                assert not state.signed, state.signed
                assert heads.untrusted >= 1 and heads.refusing, heads.to_json()
                state.lie = None

                async def settled() -> bool:
                    return {await api.status(o) for o in pair} == {"filled"}

                await wait_for(settled, 90)
                assert state.signed and max(state.signed) < 10**6, state.signed


@pytest.mark.parametrize("lied", [False, True], ids=["risen while down", "a lie past it"])
async def test_a_fee_risen_while_down_is_signed_with_once_the_mirror_walked_to_it(
    chain: Chain, lied: bool
) -> None:
    """The start as ``sdex.node.core`` and the watcher's ``check_head`` set the node's
    ``HeadSignal`` (the deploy block read by number, the saved head's floor, ``syncing``),
    ``RISE`` blocks mined while the node was down each at the highest fee EIP-1559 allows:
    the settler's read of the latest block before the catch-up is not signed with ("while it
    catches up"; fee90 and fee92 counted the steps up to the start's head, one endpoint's
    word: fee93), and is once the mirror read the blocks up to it by number (the catch-up's
    walk, each block's fee in turn); a fee above that rise is not."""
    c = chain
    with base_fee_kept(c):
        c.rpc.call("hardhat_mine", hex(OLD))
        deploy = _block(c, c.deployment.deploy_block)
        saved = _block(c, "latest")
        fee = _fee(saved) + 10**9  # (a chain of fees in gwei: the steps are no wei's rounding)
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(fee))
        c.rpc.call("evm_mine")
        saved = _block(c, "latest")
        saved_number = int(str(saved["number"]), 16)
        for _ in range(RISE):  # (the node down: each block's fee an eighth over its parent's)
            fee += fee // 8
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(fee))
            c.rpc.call("evm_mine")
        latest = _block(c, "latest")
        assert _fee(latest) == fee and int(str(latest["number"]), 16) == saved_number + RISE
        known = [saved_number]
        heads = HeadSignal(lambda: known[0])  # (the mirror's head: the saved one)
        assert heads.read(c.deployment.deploy_block, _fee(deploy), placed=True) is None
        heads.syncing = True
        heads.resume((saved_number, _fee(saved)))  # (the floor saved with the head)
        assert heads.read_fee == (saved_number, _fee(saved))
        assert fee > _fee(saved) * 2**2  # (past FEE_STEPS' reach of the saved head)
        fees, rpc = Fees(heads), AsyncRpc(c.rpc.url)
        try:
            with pytest.raises(ChainError, match="while it catches up"):
                await fees.current(rpc)  # (main: signed with, the start's head its steps)
            assert heads.syncing and heads.waiting() is not None
            for n in range(saved_number + 1, saved_number + RISE + 1):  # (the mirror's walk)
                assert heads.read(n, _fee(_block(c, n)), placed=True) is None, n
                known[0] = n
            if lied:  # (one block more, its fee past the reach of the blocks walked)
                jumped = fee
                for _ in range(FEE_STEPS + 2):
                    jumped += jumped // 8
                c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(jumped))
                c.rpc.call("evm_mine")
                with pytest.raises(ChainError, match="EIP-1559"):
                    fees.forget()
                    await fees.current(rpc)
            else:
                fees.forget()
                assert await fees.current(rpc) == fees_for(fee)
            assert heads.untrusted == lied
        finally:
            await rpc.close()


async def test_a_pooled_row_after_a_rise_while_down_is_judged_at_the_fees_of_now(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real node run to the chain's head (fee 1 gwei) and stopped; ``RISE`` blocks mined while
    it is down, each at the highest fee EIP-1559 allows (~17 gwei: over the row's fee cap); the
    last run's settlement in its store, pooled. Its start's reconcile reads the fees of now to
    judge the row (settle88's ``judged_at``) before the catch-up: fee93, the risen fee waits
    for the mirror's reads of the blocks since ("while it catches up": fee90 and fee92 counted
    the steps up to the start's head, one endpoint's word), never counted as a lie; the row,
    judged again once they came (fixb's ``_fees_now``), settles."""
    c = chain
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    with base_fee_kept(c):
        c.rpc.call("hardhat_mine", hex(OLD))
        await fee_walked_to(c, 10**9)  # (the node's reads believe each block's rise: fee93)
        top = await ran_to_head(c, tmp_path / "n.db")
        fee = _fee(top)
        for _ in range(RISE):  # (the node down: each block's fee an eighth over its parent's)
            fee += fee // 8
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(fee))
            c.rpc.call("evm_mine")
        cfg, store, resting, incoming, data = stored_pair(c, tmp_path)
        first = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
        assert 2 * FEES[0] + FEES[1] < fee  # (its fee cap under the chain's fee now)
        pairs = [(resting.hash_hex, incoming.hash_hex)]
        await asyncio.wrap_future(
            store.add_settlement(first.tx_hash, first.nonce, first.raw, pairs)
        )
        store.close()
        c.rpc.call("evm_setAutomine", False)
        try:
            c.rpc.call("eth_sendRawTransaction", first.raw)  # (pooled: the node killed)
            with caplog.at_level(logging.WARNING, logger="sdex.settlement"):
                async with running_node(cfg) as (node, api):
                    if "fees not read to judge" in caplog.text:  # (before the walk: fee93)
                        assert "while it catches up" in caplog.text, caplog.text
                    assert node.mirror.announced.untrusted == 0

                    async def settled() -> bool:  # (a block each look: what was sent lands)
                        c.rpc.call("evm_mine")
                        statuses = {await api.status(o) for o in (resting, incoming)}
                        return statuses == {"filled"}

                    await wait_for(settled, 90)
        finally:
            c.rpc.call("evm_setAutomine", True)
