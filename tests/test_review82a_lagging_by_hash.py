"""review82a: a settlement pooled (the pending count past its nonce for ``UNKNOWN_TIMEOUT``)
is not cancelled on one by-hash answer of a backend that does not know it yet (behind a
balancer, the count's batch and the by-hash ask are two requests, maybe two backends).

settle82's ask by hash backdates ``unknown_since`` to when the count first said pooled, so a
single ``null`` makes the wait due at once and its ``keep`` cancels the settlement (a sound
settlement displaced by a transfer of nothing, its matches failed). Real Hardhat, mining only
when told; one lone ``eth_getTransactionByHash`` answered ``null`` as a lagging backend would."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.settlement import receipts
from sdex.settlement.receipts import poll_receipt
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.rowsatnonce import paused_at_nonce
from tests.test_reconcile77_too_high import pooling

__all__ = ["pooling"]
UNKNOWN = 3.0
KEY = 18


async def test_one_lagging_by_hash_answer_does_not_cancel_a_pooled_settlement(
    pooling: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    monkeypatch.setattr(receipts, "UNKNOWN_TIMEOUT", UNKNOWN)
    sender, _nonce, _fees, ours = paused_at_nonce(c, KEY)
    c.rpc.call("eth_sendRawTransaction", ours.raw)
    kept: list[bool] = []
    lagged = 0

    class OneLagging(AsyncRpc):
        async def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
            nonlocal lagged
            if method == "eth_getTransactionByHash" and lagged == 0:
                lagged += 1  # (the one answer of a backend that has not seen it yet)
                return None
            return await super().call(method, *params, timeout=timeout)

    async def keep(cancel: bool) -> bool:
        kept.append(cancel)
        return True

    rpc = OneLagging(c.rpc.url)
    waiting = asyncio.create_task(poll_receipt(rpc, sender.address, ours, keep=keep))
    try:
        # (the count says pooled from the first check: past 3 UNKNOWN_TIMEOUT, the ask by
        # hash was made and judged; before settle82 none was made, nothing cancelled)
        loop = asyncio.get_running_loop()
        until = loop.time() + 3 * UNKNOWN + 2
        await wait_for(lambda: True in kept or loop.time() > until, timeout=60)
        assert True not in kept, f"cancelled on one lagging answer: keep called {kept}"
        assert not waiting.done()
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await rpc.close()
        c.rpc.call("evm_mine")
        c.rpc.call("evm_setAutomine", True)
