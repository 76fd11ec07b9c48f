"""settle82: a settlement whose nonce another transaction of the operator's key holds in the
pool is cancelled at ``UNKNOWN_TIMEOUT``, as one the chain does not know, not at
``RECEIPT_TIMEOUT``.

settle81 let the pending count say "pooled" (a transaction of the key at its nonce, ready)
without asking for the settlement by hash: any transaction there counted as ours, another
user's of the key too, and the wait's cancel came at ``RECEIPT_TIMEOUT`` (120 s), its matches
held that long. Now a count that has said so for ``UNKNOWN_TIMEOUT`` is checked by hash
(one ask per ``UNKNOWN_TIMEOUT`` while it is ours). Real Hardhat, mining only when told."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.settlement import receipts
from sdex.settlement.receipts import RECEIPT_TIMEOUT, poll_receipt
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.rowsatnonce import paused_at_nonce
from tests.test_reconcile77_too_high import pooling

__all__ = ["pooling"]  # (reconcile77's fixture: the chain mining only when told)
UNKNOWN = 3.0
"""``receipts.UNKNOWN_TIMEOUT``, shortened."""
KEY = 17  # (a dev account of its own: the operator's key here)


@pytest.mark.parametrize("at_nonce", ["another's", "ours"])
async def test_another_transaction_at_the_nonce_is_not_taken_for_ours(
    pooling: Chain, monkeypatch: pytest.MonkeyPatch, at_nonce: str
) -> None:
    """Before: with another's transaction pooled at its nonce, the wait's cancel came at
    ``RECEIPT_TIMEOUT`` only (the bound here, 40 s, missed): failed 3 of 3. Its own bytes
    pooled: never cancelled, asked for by hash at most once per ``UNKNOWN``."""
    c = pooling
    monkeypatch.setattr(receipts, "UNKNOWN_TIMEOUT", UNKNOWN)
    sender, nonce, fees, ours = paused_at_nonce(c, KEY)
    other = sender.sign_at(nonce, c.address(2), b"", 21_000, fees=fees)
    pooled = ours if at_nonce == "ours" else other
    c.rpc.call("eth_sendRawTransaction", pooled.raw)
    kept: list[bool] = []
    by_hash = checks = 0

    class Counted(AsyncRpc):
        async def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
            nonlocal by_hash
            by_hash += method == "eth_getTransactionByHash"
            return await super().call(method, *params, timeout=timeout)

        async def batch(self, calls: Any, *args: Any, **kw: Any) -> Any:
            nonlocal checks  # (a loss check: the counts and the receipts, one batch)
            checks += 1
            return await super().batch(calls, *args, **kw)

    async def keep(cancel: bool) -> bool:
        kept.append(cancel)
        return True

    rpc = Counted(c.rpc.url)
    loop = asyncio.get_running_loop()
    began = loop.time()
    waiting = asyncio.create_task(poll_receipt(rpc, sender.address, ours, keep=keep))
    try:
        if at_nonce == "another's":
            await wait_for(lambda: True in kept, timeout=40)
            took = loop.time() - began
            assert UNKNOWN < took < RECEIPT_TIMEOUT / 3, took
        else:
            await wait_for(lambda: checks >= 12, timeout=60)  # (a check a second: 4 UNKNOWN)
            watched = loop.time() - began
            assert kept == [], kept
            assert by_hash <= watched / UNKNOWN + 1, (by_hash, watched)
        assert not waiting.done()
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await rpc.close()
