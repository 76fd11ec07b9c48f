"""settle69 (settle65's left): an adopted settlement whose incoming order is a one-shot order
(IOC, FOK) the restart closed, and which then fails: ``_diagnose`` on that path, where the
book holds the resting side alone (``NodeSettlement._one_side``). The pooled settlement
reverts: a maker moved her tokens away in the block it lands in, before it (a transfer
pooled with a higher tip). The resting maker short: the resting order closed ``unfunded``,
nothing matched again. The one-shot taker's maker short: the resting order given back and
matched again with an open bid, which settles. Lost (the chain's pool forgets it, a block
comes without it): the same as the latter. In each case the one-shot order's record stays
as the restart closed it, nothing filled, and nothing is counted against the innocent one.
(Real Hardhat: mining paused while the settlement is pooled, as settle65's tests.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain import Sender
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_audit62_cancel_kept import meta_at
from tests.test_cancel65_onchain_queued import GWEI
from tests.test_node import ALICE, BOB, E6, E18
from tests.test_reorg63_replaced_restart import OPERATOR
from tests.test_settle65_adopt_ioc import crossing, stored_with_pooled
from tests.test_settlement_pipeline import take_nonce
from tests.test_take65_doomed_queued import SINK


def move_pooled(c: Chain, maker: int, token: str) -> None:
    """``maker``'s transfer of all her ``token`` away, pooled with a tip above the node's."""
    t = c.weth if token == "WETH" else c.usdc
    data = t.abi.fn("transfer").encode(c.address(SINK), t.balance_of(c.address(maker)))
    sender = Sender(c.rpc, c.keys[maker], c.deployment.chain_id)
    sender.broadcast(sender.sign(t.address, data, 100_000, fees=(100 * GWEI, 50 * GWEI)))


async def record(api: Api, h: str) -> tuple[str, str, str]:
    meta = await meta_at(api, h)
    return meta["status"], meta["filledMakerAmount"], meta["pendingMakerAmount"]


@pytest.mark.parametrize("short", ["resting", "one-shot", "lost"])
async def test_an_adopted_one_shot_settlement_that_reverts_is_diagnosed(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short: str
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, taker, other = crossing(c)
    tx = await stored_with_pooled(c, cfg, resting, taker, other)
    try:
        async with running_node(cfg) as (node, api):
            assert node.settler.adopted == 1 and tx.tx_hash in node.settler.in_flight
            if short == "lost":  # (the chain's pool forgets it, another sender of the
                # key takes its nonce: lost78, its bytes are sent again until then)
                dropped = c.rpc.call("hardhat_dropTransaction", tx.tx_hash)
                assert dropped in (True, tx.tx_hash)  # (Hardhat's answer; anvil's)
                take_nonce(c, tx.nonce, OPERATOR)
                c.rpc.call("evm_mine")
            else:
                maker, token = (ALICE, "WETH") if short == "resting" else (BOB, "USDC")
                move_pooled(c, maker, token)
                c.rpc.call("evm_mine")  # (the transfer first: the pooled settlement reverts)
                receipt = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
                assert receipt is not None and receipt["status"] == "0x0", receipt
            c.rpc.call("evm_setAutomine", True)  # (whatever the node sends next lands)

            async def judged() -> bool:
                return node.settler.failed == 1 and node.settler.idle.is_set() and not node._holds

            await wait_for(judged)
            taker_was = ("removed", "0", "0")  # (as the restart closed it: never rests)
            if short == "resting":
                await wait_for(lambda: node.settler.idle.is_set())
                assert await record(api, resting.hash_hex) == ("unfunded", "0", "0")
                assert await record(api, other.hash_hex) == ("open", "0", "0")
                assert node.settler.sent == 0  # (nothing matched again)
            else:  # the resting order given back, matched again with the open bid

                async def settled() -> bool:
                    return await api.status(other) == "filled" and node.settler.idle.is_set()

                await wait_for(settled)
                assert await record(api, resting.hash_hex) == ("filled", str(E18), "0")
                assert (node.settler.sent, node.settler.settled) == (1, 1)
                assert c.exchange.order_info(other.order).filled == 3000 * E6
            assert await record(api, taker.hash_hex) == taker_was
            assert c.exchange.order_info(taker.order).filled == 0
            for so in (resting, taker, other):  # (nothing counted against an order)
                rec = node.records.get(so.hash)
                # (lost: a failure found no guilty order and no evidence, counted against
                # both as any lost settlement's is: the resting one pre-flighted from now)
                assert rec is not None and rec.failures == (short == "lost" and so != other)
            e = node.book.find(resting.hash)
            assert e is None or e.pending == 0
    finally:
        c.rpc.call("evm_setAutomine", True)
