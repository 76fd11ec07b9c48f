"""left48: dead order rows are deleted from the store (``sdex.storeprune``).

Before, every order a node ever accepted kept its row for ever: a stream of short-lived
orders (each cancelled or expired, never traded) grew the SQLite file without bound. Now a
never-traded cancelled or expired order's row is deleted once its expiry is older than
``expired_retention`` by the chain's clock; the rows that still tell something stay (an
order with a fill, an unexpired soft cancel that ``/p2p/cancelled`` serves, the highest
``seq``), a listing walked by cursor across the deletion lists every kept row once, and a
restart numbers new orders after every ``seq`` given.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sdex.node import core
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.test_attack44_chain_clock import pending_time
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask

LIFE = 600
"""Seconds the short-lived orders live, by the chain's clock."""


async def walk(api: Api, cursor: str | None) -> tuple[list[str], str | None]:
    """One page of ``GET /v1/orders`` (2 records; after ``cursor`` if given): its hashes
    and the next page's cursor."""
    params: dict[str, Any] = {"perPage": 2}
    if cursor is not None:
        params["cursor"] = cursor
    page = await api.listing("/v1/orders", **params)
    return [r["metaData"]["orderHash"] for r in page["records"]], page["next"]


def pruning(c: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NodeConfig:
    """A node's config deleting dead rows as soon as they expire, sweeps back to back."""
    monkeypatch.setattr(core, "PRUNE_REST", 0.2)  # (the test waits less)
    return node_config(c, tmp_path / "n.db", closed_grace=0.1, expired_retention=0.0)


def short_lived(c: Chain) -> tuple[int, Callable[[int], SignedOrder]]:
    """When the short-lived orders expire (``LIFE`` s from now by the chain's clock), and
    the ``i``-th such ask of ALICE's."""
    ends = pending_time(c) + LIFE

    def short(i: int) -> SignedOrder:
        return c.sign(ask(c, ALICE, E18, (3000 + i) * E6, expiry=ends))

    return ends, short


async def test_dead_rows_are_deleted_and_what_tells_something_stays(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    cfg = pruning(c, tmp_path, monkeypatch)
    ends, short = short_lived(c)

    async with running_node(cfg) as (node, api):
        dead = [short(i) for i in range(4)]
        traded, cancelled = short(10), short(11)
        lasting = c.sign(ask(c, ALICE, E18, 3100 * E6, expiry=ends + 3600))
        last = short(12)  # the highest seq: kept (a restart numbers after it)
        for s in [*dead, traded, cancelled, lasting, last]:
            assert (await api.post_taken(s))[0] == 201
        c.exchange.fill_order(c.sender(BOB), traded, 1000 * E6)  # a third of it, on chain
        await synced(node, c)
        await soft_cancel(c, api, cancelled, ALICE)
        await soft_cancel(c, api, lasting, ALICE)
        first, cursor = await walk(api, None)  # a walk begun before the deletion
        assert first == [dead[0].hash_hex, dead[1].hash_hex]

        c.rpc.call("evm_increaseTime", LIFE + 60)  # the short-lived ones expire
        c.rpc.call("evm_mine")
        await synced(node, c)

        async def gone() -> bool:
            codes = [(await api.get(f"/v1/orders/{s.hash_hex}"))[0] for s in [*dead, cancelled]]
            return codes == [404] * 5

        await wait_for(gone, timeout=30)
        for s, status in ((traded, "expired"), (lasting, "cancelled"), (last, "expired")):
            code, body = await api.get(f"/v1/orders/{s.hash_hex}")
            assert (code, body["metaData"]["status"]) == (200, status), body
        fills = await api.listing("/v1/fills", orderHash=traded.hash_hex)
        assert [f["orderHash"] for f in fills["records"]] == [traded.hash_hex]
        proofs, _ = await node.store.soft_cancels_after(0, 100, node.now())
        assert [p.signed.hash_hex for p in proofs] == [lasting.hash_hex]  # /p2p/cancelled's
        rest: list[str] = []
        while cursor is not None:
            hashes, cursor = await walk(api, cursor)
            rest += hashes
        assert rest == [traded.hash_hex, lasting.hash_hex, last.hash_hex]
        last_seq = int((await node.store.order_rows_of([last.hash_hex]))[0][1])

    async with running_node(cfg) as (node, api):  # a restart on the same store
        fresh = c.sign(ask(c, ALICE, E18, 3200 * E6))
        assert (await api.post_taken(fresh))[0] == 201
        assert node.records[fresh.hash].seq > last_seq
        assert (await api.get(f"/v1/orders/{dead[0].hash_hex}"))[0] == 404
        assert (await api.get(f"/v1/orders/{traded.hash_hex}"))[0] == 200
