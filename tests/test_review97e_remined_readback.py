"""review97e: store97's read back of spilled rechecks calls ``_remined_stored`` mid-run with
the orders it reads (``Rechecks.refilled``); an order whose fill mined again waits in
``_remined_later`` already (``_remined`` put it off: the store refused its record) had that
amount added again (6a0a03e7 made it skip such an order; it had no test). Here with the
bound lowered to 2: BOB's IOC's fill mined again while the reader refuses, put off (3000
USDC waiting), its recheck spilled and read back while it waits: still 3000, not 6000; the
store reading, the record takes the chain's 3000 once.

Real Hardhat, a real node in this process on its SQLite store, the refusal a real SQLite
authorizer on its reader."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import forgotten
from tests.test_mirror import meta, synced
from tests.test_node import E6
from tests.test_reorg_remined import reorged_ioc
from tests.test_store95_follow_refused import applied_past, refusing_reads


async def test_a_remined_amount_is_not_counted_twice_when_read_back(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", closed_grace=0.2)) as (node, api):
        _, taker, tx, raw = await reorged_ioc(c, node, api)
        await forgotten(node, taker)
        reader, refused = refusing_reads(node)
        try:
            assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx
            await applied_past(c, node)
            assert refused, "the order's row was never read"
            later = node._remined_later or {}
            assert later.get(taker.hash) == 3000 * E6, later  # (put off)
            due = node._recheck
            assert taker.hash in due
            due.kept = 2  # (the bound, lowered: RECHECKS_KEPT)
            due.add_all(os.urandom(32) for _ in range(5))
            await asyncio.gather(*due.writes())
            assert taker.hash not in due and due.spilled, "the IOC's recheck never spilled"

            async def read_back() -> bool:  # (the others judged: the list drains)
                for h in [h for h in due if h != taker.hash]:
                    due.discard(h)
                due.flush()
                await asyncio.gather(*due.writes())
                return taker.hash in due and due._refilling is None

            await wait_for(read_back, 30)
            assert (node._remined_later or {}).get(taker.hash) == 3000 * E6  # (before: 6000)
        finally:
            reader.set_authorizer(None)
        c.rpc.call("evm_mine")  # (a block to take it in, the store reading)

        async def taken() -> bool:
            m = await meta(api, taker)
            return (m["status"], m["filledMakerAmount"]) == ("removed", str(3000 * E6))

        await wait_for(taken, 60)
        await synced(node, c)
        assert not node._remined_later
