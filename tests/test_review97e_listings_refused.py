"""review97e: store97 made a soft cancel and ``GET /v1/orders/{hash}`` answer 503 when the
store refuses an order's row, and noted that other read paths might still turn a refusal into
a 500 "internal error": the listings (``GET /v1/orders``, ``GET /v1/fills``), read on
read-only connections of their own, did (now 503 saying the store refused, ask again later);
a peer's ``/fetch`` (``cancel_proofs``, read on the writer's connection) did not: the refusal
comes out as ``StoreError``, which the gossip routes answer 503 (gossip70's test), asserted
here so it stays so.

Real Hardhat, a real node in this process on its SQLite store; the refusals are real SQLite
authorizers (on each listing's own read-only connection as it opens, on the writer's)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sdex.store import StoreError
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, CAROL, E6, E18, ask
from tests.test_store95_follow_refused import evicted_half


def refusing(refused: list[str]) -> Callable[..., int]:
    """A SQLite authorizer refusing each read of the orders and the fills."""

    def authorize(action: int, table: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and table in ("orders", "fills"):
            refused.append(table)
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


LISTINGS: list[tuple[str, dict[str, str]]] = [
    ("/v1/orders", {}),
    ("/v1/orders", {"status": "open"}),
    ("/v1/orders", {"maker": "MAKER"}),
    ("/v1/fills", {}),
    ("/v1/fills", {"orderHash": "HASH"}),
]


async def test_listings_and_cancel_proofs_while_the_store_refuses(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filled order and an evicted soft-cancelled one; every listing asked while each
    read-only connection the node opens refuses the orders and fills: 503 naming the
    refusal, each (before: 500 "internal error"); the store reading, 200. The peer's fetch
    of the evicted order's cancel proof while the writer's connection refuses: no proof, no
    error (before: the refusal raised, the fetch answered 500); the store reading, the
    proof."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        whole = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await api.post_taken(whole))[0] == 201
        assert c.exchange.fill_order(c.sender(CAROL), whole, 1000 * E6).status == 1
        half = await evicted_half(c, node, api)
        maker = c.address(ALICE)
        refused: list[str] = []
        real = sqlite3.connect

        def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
            db = real(database, *args, **kwargs)
            if "mode=ro" in str(database):  # (each listing's own connection)
                db.set_authorizer(refusing(refused))
            return db

        subs = {"MAKER": maker, "HASH": whole.hash_hex}
        asked = [(p, {k: subs.get(v, v) for k, v in q.items()}) for p, q in LISTINGS]
        monkeypatch.setattr(sqlite3, "connect", connect)
        got = [await api.get(p, **q) for p, q in asked]
        monkeypatch.setattr(sqlite3, "connect", real)
        assert refused, "no listing read was refused"
        for (path, q), (code, body) in zip(asked, got, strict=True):
            assert code == 503, (path, q, code, body)  # (before: 500 "internal error")
            assert "store refused" in body["reason"] and "again" in body["reason"], body
        for path, q in asked:
            code, body = await api.get(path, **q)
            assert code == 200, (path, q, body)

        writer = node.store._writer
        before = len(refused)
        await asyncio.wrap_future(writer.submit(lambda db: db.set_authorizer(refusing(refused))))
        try:
            with pytest.raises(StoreError):  # (the route's 503: ``routes._run``)
                await node.cancel_proofs([half.hash_hex])
        finally:
            await asyncio.wrap_future(writer.submit(lambda db: db.set_authorizer(None)))
        assert len(refused) > before, "the proofs' read was never refused"
        proofs = await node.cancel_proofs([half.hash_hex])
        assert [p["orderHash"] for p in proofs] == [half.hash_hex]
