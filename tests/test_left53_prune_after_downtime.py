"""Left53 (review49): the opt-in dead-row sweep (``sdex node --drop-closed-after``) judged
expiry by the chain's clock, read at start from its latest block, before the node's watcher
had applied the blocks mined while it was down: an order filled on chain during a downtime
longer than the retention (soft-cancelled at the node, so closed there, its row saying
``filled`` 0) lost its row, and its fill, stored once the watcher caught up, was listed
beside a 404. The sweep now goes by the time of the last block the node has applied."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.rpcfault import Answer, _proxy
from tests.test_left48_dead_rows import LIFE, pruning, short_lived
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6
from tests.test_review49_landing_and_prune import two_sweeps


def no_logs(req: object) -> Answer | None:
    """A request reading logs (alone or in a batch) is refused (HTTP 503): the watcher
    cannot apply a block; everything else is forwarded."""
    calls = req if isinstance(req, list) else [req]
    if any(isinstance(r, dict) and r.get("method") == "eth_getLogs" for r in calls):
        return 503, b"logs unavailable"
    return None


async def test_a_restart_after_downtime_keeps_an_order_filled_while_down(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    cfg = pruning(c, tmp_path, monkeypatch)
    ends, short = short_lived(c)

    withdrawn, dead, last = short(0), short(1), short(2)
    async with running_node(cfg) as (node, api):
        for s in (withdrawn, dead, last):
            assert (await api.post_order(s))[0] == 201
        await soft_cancel(c, api, withdrawn, ALICE)  # (the chain still honours it)
        await soft_cancel(c, api, dead, ALICE)
        await synced(node, c)

    # the node is down: ``withdrawn`` is filled on chain, then every order expires
    c.exchange.fill_order(c.sender(BOB), withdrawn, 1000 * E6)
    c.rpc.call("evm_increaseTime", LIFE + 60)
    c.rpc.call("evm_mine")

    # back, its watcher not yet through the blocks since (their logs cannot be read now)
    with _proxy(c.rpc.url, no_logs) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert node.chain_time() > ends  # (expired by the chain's clock)
            await two_sweeps(node)
            rows = await node.store.order_rows_of([withdrawn.hash_hex, dead.hash_hex])
            assert len(rows) == 2, rows  # before: ``withdrawn``'s row deleted (``dead``'s too)

    async with running_node(cfg) as (node, api):  # the blocks since applied: swept then
        await synced(node, c)

        async def dead_gone() -> bool:
            return (await api.get(f"/v1/orders/{dead.hash_hex}"))[0] == 404

        await wait_for(dead_gone, timeout=30)
        code, body = await api.get(f"/v1/orders/{withdrawn.hash_hex}")
        assert code == 200, body
        fills = await api.listing("/v1/fills", orderHash=withdrawn.hash_hex)
        assert [f["orderHash"] for f in fills["records"]] == [withdrawn.hash_hex]
