"""A ``getOrderStates`` read past the chain's gas for a call is read again in halves.

review32 found: each row of a contract maker gets ``SIGNATURE_VIEW_GAS`` (100,000) for its
``isValidSignature``, so a read of many orders of wallets that burn what they are given
needs more gas than an ``eth_call`` may use (Hardhat: the block's 30M): 500 such rows (the
restart's and the watcher's ``get_many`` chunk), or 256 (an intake batch) on a chain whose
call cap is lower, made the whole call fail, every honest row of it with them (a node then
could not restart, or refused the honest orders of the same window). A read that runs out
of gas is now split in halves down to one order (whose read cannot run out: one wallet's
100,000). Before the fix, 500 such rows on anvil (which caps a call at the block's gas):
"EVM error OutOfGas" for the whole read; Hardhat gave a call no cap, so every read now
carries ``CALL_GAS`` and behaves alike everywhere."""

from __future__ import annotations

from dataclasses import replace

from sdex.chain.arpc import AsyncRpc
from sdex.ingest.states import StateBatcher
from sdex.order import sign_order
from tests.conftest import Chain
from tests.test_attack30_gas_gated_wallet import OWNER
from tests.test_attack30_verdict_gas import burner
from tests.test_node import ALICE, E6, E18, ask

CALL_GAS = 2_500_000
"""The reads' gas here: a tenth of the product's ``CALL_GAS`` (25M) shows the same split with a
tenth of the rows (300 rows past 25M: 40 s of Hardhat's EVM under load for the one test)."""
ROWS = 30
"""Burner rows in one read: ~3.5M gas of signature checks (~115,000 a row), past ``CALL_GAS``."""


async def test_a_read_of_many_burning_wallets_orders_is_split_not_failed(chain: Chain) -> None:
    c = chain
    w = burner(c)
    hostile = [
        sign_order(replace(ask(c, ALICE, E18, (3000 + i) * E6), maker=w), c.domain, c.keys[OWNER])
        for i in range(ROWS)
    ]
    honest = c.sign(ask(c, ALICE, E18, 3000 * E6))
    rpc = AsyncRpc(c.deployment.rpc)
    try:
        batcher = StateBatcher(rpc, c.exchange)
        batcher.call_gas = CALL_GAS
        states = await batcher.get_many([*hostile, honest])
    finally:
        await rpc.close()
    assert [s.signature_valid for s in states] == [False] * ROWS + [True]
    assert states[-1].maker_balance > 0
    assert 2 <= batcher.calls <= 8, batcher.calls  # (one read ran out, then halves)
