"""review100d: restart98's release (``_released``) and the lane's "no cancel over an earlier
pooled" (``_earlier_pooled``) looked at the rows a later adoption marked ``superseded`` only.
But a superseded row's wait still replaces it at higher fees when it is stuck in the pool
(``_replace_if_stuck``): its replacement, in flight at the nonce, was not marked. Then the
later's flight given up on an error released nothing (the replacement "held" the nonce: not
superseded), the earlier's wait (its original superseded) sent nothing more, and once the
pool lost the replacement the nonce stayed empty, the earlier's orders held till a later
signature filled the gap. Now a superseded row's replacement is superseded too: released
with it.

Real Hardhat mining only when told (the earlier stuck under a base fee set above its cap for
three blocks, ``hardhat_setNextBlockBaseFeePerGas``; its replacement dropped from the pool by
``hardhat_dropTransaction``), the rows stored as a killed run leaves them (real SQLite), the
start in this process. The later's flight's error is made by its wait raising once released
(a wrap of the real ``_landing``, as restart98's test: the one fault not a real part's)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.supersededrows import later_given_up, superseded_rows
from tests.test_reconcile77_too_high import pooling
from tests.test_review66_adopt_landed import OPERATOR

__all__ = ["pooling"]


async def test_a_superseded_row_s_replacement_is_released_with_it(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    monkeypatch.setattr("sdex.settlement.receipts.UNKNOWN_TIMEOUT", 600.0)  # (no cancel here)
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    base = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    _, first, later = await superseded_rows(c, cfg, (base * 9 // 20, 1))  # (its cap: 0.9 of it)
    n = first.nonce
    c.rpc.call("evm_setAutomine", False)
    c.rpc.call("eth_sendRawTransaction", first.raw)  # (pooled; the later refused underpriced)
    go = later_given_up(monkeypatch, later)
    operator = c.address(OPERATOR)

    def pending() -> int:
        return int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)

    async with running_node(cfg) as (node, _):
        s = node.settler
        await wait_for(lambda: s.adopted == 2, timeout=60)
        assert first.tx_hash in s.superseded, s.superseded
        loop = asyncio.get_running_loop()
        began, fee = loop.time(), base * 11 // 10  # (within EIP-1559's 1/8 a block)
        while s.replaced == 0:  # (stuck under the base fee: its wait replaces it)
            assert loop.time() < began + 90, "never replaced"
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(fee))
            c.rpc.call("evm_mine")
            await asyncio.sleep(1.0)
        (again,) = (h for h, (_, t) in s.signed_views.items()
                    if t.nonce == n and h not in (first.tx_hash, later.tx_hash))  # fmt: skip
        assert c.rpc.call("eth_getTransactionByHash", again) is not None
        go.set()  # (the later given up)
        await wait_for(lambda: later.tx_hash not in s.in_flight, timeout=30)
        c.rpc.call("hardhat_dropTransaction", again)  # (the pool lost the replacement)
        assert pending() == n
        # (before: nothing at n, the earlier superseded for good)
        await wait_for(lambda: pending() > n, timeout=40)
        assert first.tx_hash not in s.superseded and again not in s.superseded
