"""left33: ``late_fills`` (``sdex.watch.falsefills``) reads the chain's fills of late blocks
past the reorg window one block a call, in one batch. A batch the RPC refuses whole as too
large (HTTP 413, an answer past the read client's bound, every call refused) is read again
in halves, down to one block; one block still too large alone is a clear ``LogsTooLarge``
naming it (before: a generic ``RpcError`` or ``AnswerTooLarge``, the poll failed each time
with nothing said of the block). Real Hardhat behind a real loopback proxy
(``tests.logsproxy``)."""

from __future__ import annotations

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.mirror import Header, Mirror
from sdex.watch import BlockChanges
from sdex.watch.falsefills import late_fills
from sdex.watch.ranges import LogsTooLarge
from tests.conftest import Chain
from tests.logsproxy import REFUSALS, logs_proxy

LATE = [3, 4, 5, 6, 7, 8]
"""Late blocks past the window (the real chain's: no fills of ours at those heights)."""


def late_mirror(c: Chain) -> Mirror:
    m = Mirror(c.exchange, [c.weth.address, c.usdc.address])
    head = int(c.rpc.call("eth_blockNumber"), 16)
    m.head = Header(head, "0x" + "64" * 32, "0x" + "63" * 32, 0)
    for n in LATE:
        m.own.add_late(n)
    return m


@pytest.mark.parametrize("way", ["413", "pad"])
async def test_a_batch_refused_whole_is_read_in_halves(chain: Chain, way: str) -> None:
    m = late_mirror(chain)
    async with logs_proxy(chain.rpc.url, way, 10, batch_most=2) as proxy:
        rpc = AsyncRpc(proxy.url)
        try:
            read = await late_fills(rpc, m, BlockChanges(0, "", 0))
        finally:
            await rpc.close()
    assert sorted(read) == LATE and all(f == [] for f in read.values())
    assert proxy.refused >= len(LATE)  # (the whole batch once at least)


@pytest.mark.parametrize("way", [*REFUSALS, "413", "pad"])
async def test_one_block_too_large_alone_is_named(chain: Chain, way: str) -> None:
    m = late_mirror(chain)
    async with logs_proxy(chain.rpc.url, way, -1) as proxy:
        rpc = AsyncRpc(proxy.url)
        try:
            with pytest.raises(LogsTooLarge, match=r"block 3's (fills|logs)") as e:
                await late_fills(rpc, m, BlockChanges(0, "", 0))
        finally:
            await rpc.close()
    assert e.value.block == 3 and "late" in str(e.value)
    assert proxy.logs_asked <= 2 * len(LATE)  # (halves: not a call per block per level)
    assert m.own.late == set(LATE)  # (left for the next poll)
