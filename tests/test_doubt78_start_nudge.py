"""doubt78: a start in doubt sends no transfer of nothing to mine a previous run's pool.

A previous run's settlement pooled on Hardhat, its automine resumed over the pool (it mines
nothing of it until it is sent a transaction). A start's reconcile sends the lane's transfer
of nothing at its next nonce to mine it (reorg63) once the row's receipt wait ends. With the
chain's identity in doubt at the start (the saved head read with another hash, then ours:
``check_head``), kept77 held the row's resend (``AsyncSends.on_chain``) but not that
transfer: it went to a chain that may be gone and mined the settlement there. Now none is
sent in doubt: the row, still pooled, is adopted (held in flight, never matched again), and
once the chain is proven ours the lane's replacement (refused while Hardhat automines) and
its transfer of nothing mine it. Real Hardhat, a real node and SQLite store, a real proxy
on loopback flapping the saved head once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chainnode import Engine
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.rpcfault import flapping_proxy
from tests.test_kept77_doubt_sends import stopped_with_a_pair
from tests.test_settle65_adopt_ioc import stored_pooled


async def test_a_start_in_doubt_sends_no_transfer_to_mine_the_pool(
    chain: Chain, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the start's transfer of nothing mined the pooled settlement while the chain
    was in doubt, the row not adopted (failed 3 of 3). Now it is adopted, no transfer sent
    at the start; proven ours, the pool is mined and the pair settles once."""
    if engine == "anvil":
        pytest.skip("Hardhat only: anvil's automine mines a pool it resumes over")
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg, head, store, (resting, incoming) = await stopped_with_a_pair(c, tmp_path / "n.db")
    try:
        tx = await stored_pooled(c, store, resting, incoming)
        c.rpc.call("evm_setAutomine", True)  # (resumed over the pool: mines nothing of it)
        with flapping_proxy(c.rpc.url, head, "0x" + "ef" * 32) as (url, told):
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                assert told == [1] and node.mirror.doubt.doubts == 1  # (in doubt at the start)
                assert node.settler.adopted == 1, node.settler.pool_nudges  # (before: 0, mined)
                assert tx.tx_hash in node.settler.in_flight

                async def filled() -> bool:  # (proven ours: the pool mined, the pair settled)
                    statuses = {await api.status(resting), await api.status(incoming)}
                    return statuses == {"filled"} and node.settler.idle.is_set()

                await wait_for(filled, timeout=60)
                assert node.mirror.doubt.held == "" and node.settler.pool_nudges >= 1
                assert node.settler.sent == 0  # (its pair never matched again)
    finally:
        c.rpc.call("evm_setAutomine", True)
    receipt = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
    assert receipt is not None and int(receipt["status"], 16) == 1
