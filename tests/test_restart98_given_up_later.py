"""restart98 (left45, "Restart"): two batches of other pairs pending at one nonce n (the
first's nonce given back in the run that signed them, a later batch signed at it), the later
pooled. A start adopts both; the later's adoption marks the earlier ``superseded`` (review97d:
its wait sends nothing more, the later holds n). Then the later's flight is given up on an
error (``AdoptedFlights._fly_adopted``: a chain outage, its bytes maybe gone with the pool that
held them). Before, the earlier stayed ``superseded``: nothing of it sent again, nor its cancel
at its bound, nonce n empty and its orders held till some later signature of the lane filled
the gap. Now the given-up flight releases the nonce: the earlier's wait sends its bytes again
(or its cancel at its bound), and they land.

Real Hardhat mining only when told (the later's bytes dropped from its pool by
``hardhat_dropTransaction``: a pool that lost them); the rows stored as a killed run leaves
them (real SQLite); the start in this process. The later's flight's error is made by its wait
raising once released (a wrap of the real ``_landing``: the one fault not a real part's)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.supersededrows import later_given_up, one_pooled
from tests.test_node import E18
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_review66_adopt_landed import OPERATOR

__all__ = ["pooling"]

FEES = (3 * 10**9, 10**9)


async def test_a_later_row_given_up_on_an_error_releases_the_earlier_rows_nonce(
    pooling: Chain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg, orders, first, later = await one_pooled(pooling, tmp_path, monkeypatch, FEES, 4.0, True)
    c = pooling
    caplog.set_level(logging.INFO, logger="sdex.settlement")
    n = first.nonce
    go = later_given_up(monkeypatch, later)
    async with running_node(cfg) as (node, _):
        s = node.settler
        await wait_for(lambda: s.adopted == 2, timeout=60)
        assert first.tx_hash in s.superseded, s.superseded
        c.rpc.call("hardhat_dropTransaction", later.tx_hash)  # (the pool lost it)
        go.set()  # (the later given up)
        await wait_for(lambda: later.tx_hash not in s.in_flight, timeout=30)

        def sent_at_n() -> bool:  # (before: nothing at n, the first superseded for good)
            return c.rpc.call("eth_getTransactionByHash", first.tx_hash) is not None

        await wait_for(sent_at_n, timeout=40)
        assert first.tx_hash not in s.superseded

        def filled() -> bool:  # (the first's bytes at n; the later's pair matched again)
            c.rpc.call("evm_mine")
            return c.exchange.order_info(orders[0].order).filled == orders[0].order.maker_amount

        await wait_for(filled, timeout=60)
        got = c.rpc.call("eth_getTransactionReceipt", first.tx_hash)
        assert got is not None and got["status"] == "0x1", got
        assert c.rpc.call("eth_getTransactionReceipt", later.tx_hash) is None
        assert nonce(c.rpc, c.address(OPERATOR)) > n
        # (nothing settled twice: each ask filled at most its amount)
        assert c.exchange.order_info(orders[2].order).filled in (0, E18)
