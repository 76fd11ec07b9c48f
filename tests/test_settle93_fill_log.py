"""settle93 (left42, "Settlement"): a gap's transfer of nothing refused because the chain
holds a transaction at its nonce already ("nonce too low": mined; "replacement transaction
underpriced": pooled at higher fees) is harmless, the gap closed meanwhile: logged at info
with a line that says so (``sdex.settlement.gap.fill``, ``held_already``). A real failure
(the chain not answering) is still a warning.

Before, each was a warning ("filling nonces ... failed"), the same as a real failure.

Real Hardhat: a transaction of the lane's key mined at one nonce, another pooled at the next
(mining paused) at four times the fees; the fills sent to each through a real client; a
third fill sent to a loopback port nobody listens on."""

from __future__ import annotations

import logging

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.fees import latest_fees
from sdex.chain.tx import Sender, SignedTx
from sdex.settlement.gap import fill
from sdex.settlement.gas import GAP_FILL_GAS, Fees
from tests.conftest import Chain
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce

__all__ = ["pooling"]

HELD = "the chain holds a transaction at it already"


async def test_a_fill_refused_for_a_held_nonce_is_logged_at_info(
    pooling: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    c = pooling
    lane = Sender(c.rpc, c.keys[-2], c.deployment.chain_id)
    rpc, dead = AsyncRpc(c.rpc.url), AsyncRpc("http://127.0.0.1:1", timeout=5)
    caplog.set_level(logging.INFO, logger="sdex.settlement")

    async def send(filler: SignedTx) -> None:
        await rpc.call("eth_sendRawTransaction", filler.raw)

    async def send_dead(filler: SignedTx) -> None:
        await dead.call("eth_sendRawTransaction", filler.raw)

    try:
        at = nonce(c.rpc, lane.address)
        base, tip = latest_fees(c.rpc)
        mined = lane.sign_at(at, c.address(0), b"", GAP_FILL_GAS, fees=(base, tip))
        c.rpc.call("eth_sendRawTransaction", mined.raw)  # (automine: mined at ``at``)
        assert nonce(c.rpc, lane.address) == at + 1
        c.rpc.call("evm_setAutomine", False)
        high = (4 * base, 4 * tip + 10**9)
        held = lane.sign_at(at + 1, c.address(0), b"", GAP_FILL_GAS, fees=high)
        c.rpc.call("eth_sendRawTransaction", held.raw)  # (pooled at ``at + 1``)
        caplog.clear()
        assert await fill(rpc, lane, Fees(), range(at, at + 1), send) == 0  # (too low)
        assert await fill(rpc, lane, Fees(), range(at + 1, at + 2), send) == 0  # (underpriced)
        said = [(r.levelno, r.getMessage()) for r in caplog.records]
        # before: two warnings, "filling nonces range(...) failed: ..."
        assert [level for level, _ in said] == [logging.INFO] * 2, said
        assert all(f"not filled: {HELD}" in m for _, m in said), said
        assert "nonce too low" in said[0][1].lower(), said
        assert "underpriced" in said[1][1].lower(), said
        caplog.clear()
        assert await fill(rpc, lane, Fees(), range(at + 2, at + 3), send_dead) == 0
        said = [(r.levelno, r.getMessage()) for r in caplog.records]
        assert [level for level, _ in said] == [logging.WARNING], said  # (a real failure)
        assert "filling nonces" in said[0][1] and HELD not in said[0][1], said
    finally:
        await rpc.close()
        await dead.close()
    c.rpc.call("evm_mine")
    assert c.rpc.call("eth_getTransactionReceipt", held.tx_hash) is not None
