"""small92 (settle90's leftover): whether a lost settlement's nonce is filled by a transfer of
nothing (``sdex.settlement.gap.lost_to_fill``, ``NonceLane._heal_gap``) is decided by a
second read on a connection of its own (``sdex.chain.apart``), as the loss itself is.

Before, one read through the pooled client decided it. A balancer that pins each kept-alive
connection to one backend (sticky sessions) answered it from the backend it had placed it on:
one that lags (or lies) and counts no transaction pooled at the nonce had it filled, the
filler displacing the lane's settlement pooled there (review69a: its matches lost for a
transfer the operator pays).

Real Hardhat mining only when told; a real transaction of the operator's pooled at the lost
one's nonce (the lane's next settlement, signed there after its nonce was read again); the
lost one never reached the chain. Settle89's real loopback balancer (aiohttp, keep-alive):
the connections open at the first ask answer the pending count without the pooled one;
connections opened since reach the chain."""

from __future__ import annotations

from sdex.chain.arpc import AsyncRpc
from sdex.chain.fees import latest_fees
from sdex.chain.tx import Sender
from sdex.settlement.gap import lost_to_fill
from sdex.settlement.gas import GAP_FILL_GAS
from tests.conftest import Chain
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle89_sticky_receipt import liar_at_first_ask, pending_count, sticky_balancer

__all__ = ["pooling"]


async def test_a_sticky_backends_count_fills_no_nonce_a_settlement_pools(pooling: Chain) -> None:
    c = pooling
    c.rpc.call("evm_setAutomine", False)
    lane = Sender(c.rpc, c.keys[-1], c.deployment.chain_id)
    at = nonce(c.rpc, lane.address)
    fees = latest_fees(c.rpc)
    lost = lane.sign_at(at, lane.address, b"\x01", GAP_FILL_GAS * 2, fees=fees)  # (never sent)
    held = lane.sign_at(at, c.address(0), b"", GAP_FILL_GAS, fees=fees)
    c.rpc.call("eth_sendRawTransaction", held.raw)  # (pooled at the lost one's nonce)
    assert (nonce(c.rpc, lane.address), nonce(c.rpc, lane.address, "pending")) == (at, at + 1)
    lies: list[int] = []
    async with sticky_balancer(c.rpc.url) as b:
        b.answer = liar_at_first_ask(
            b, pending_count(lane.address), hex(at), lies
        )  # (lags: none pooled)
        rpc = AsyncRpc(b.url)
        try:
            # before: None (fill it), the filler displacing ``held``
            why = await lost_to_fill(rpc, lane.address, lost)
        finally:
            await rpc.close()
    assert lies, "the lie not told"
    assert why == "a transaction of it is pooled", why
    c.rpc.call("evm_mine")
    assert nonce(c.rpc, lane.address) == at + 1
    assert c.rpc.call("eth_getTransactionReceipt", held.tx_hash) is not None
