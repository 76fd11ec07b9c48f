"""store97: a closed order's fill mined again after a reorg (``_remined``) while the store
refused its record's read, then the node killed (SIGKILL, by its PID) once its head was saved
past that block. review96e kept the undone fill's row till the amount is taken in and rebuilt
it at a start (``_remined_stored``) but tested a clean stop only; here the node is an ``sdex
node`` process killed outright: started again, the record takes the fill (the chain's amount,
once) and the audit is clean (no ``fill_after_node_closed``).

Real Hardhat; the reorg made by a node in this process (stopped), then an ``sdex node``
process on the same SQLite store whose read-only connections refuse every read of the orders
while a file exists (store96's ``sitecustomize``: a real SQLite authorizer)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, node_up, running_node, saved_head, wait_for
from tests.refusedread import taken_back, taken_in_once
from tests.test_mirror import meta
from tests.test_node import E6
from tests.test_reorg_remined import reorged_ioc
from tests.test_store96_read_later import refusing_site


async def test_a_remined_fill_put_off_is_taken_in_after_a_kill(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BOB's IOC closed ``removed`` by a reorg that undid its fill (a node in this process,
    stopped: a closed order is not loaded at the next start); an ``sdex node`` process on its
    store, the reader refusing every read of the orders; the settlement mined again, the head
    saved past it, the process killed by its PID. Started again, the store reading, a block
    mined: the IOC's record has the chain's 3000 USDC, once; the audit clean."""
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db, closed_grace=0.2)) as (node, api):
        _, taker, tx, raw = await reorged_ioc(c, node, api)
    flag = refusing_site(tmp_path, monkeypatch)
    async with node_up(c, db) as (proc, api):
        assert (await meta(api, taker))["filledMakerAmount"] == "0"
        flag.touch()
        await asyncio.sleep(0.2)  # (the authorizer set again on the node's reader)
        assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx
        c.rpc.call("evm_mine")
        top = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_head(db) >= top, 60)  # (past the block mined again)
        said = db.with_suffix(".log").read_text(errors="replace")
        assert taker.hash_hex[2:] in said and "refused" in said, said[-3000:]  # (put off)
        proc.kill()
        proc.wait(30)
    flag.unlink()
    assert c.exchange.order_info(taker.order).filled == 3000 * E6
    async with node_up(c, db) as (_, api):
        c.rpc.call("evm_mine")  # (a block to take it in)
        await taken_back(api, taker)

        async def caught_up() -> None:
            top = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: saved_head(db) >= top, 60)

        await taken_in_once(c, api, taker, caught_up)
