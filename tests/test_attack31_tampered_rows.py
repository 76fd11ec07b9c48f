"""attack31: a node restarted on a SQLite file edited by another hand checks every row it
loads. A row that is not as the node writes it is refused alone (logged, closed), and
nothing it holds reaches a client's answer or a later write."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import aiohttp

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, BOB, E6, E18, ask


def _strict(text: str) -> object:
    """``text`` as standard JSON: ``Infinity``/``NaN`` (or ``inf``) refused, as a browser's
    ``JSON.parse`` or any strict client does."""

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


async def _text(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as r:
        return r.status, await r.text()


async def test_a_stored_order_created_at_infinity_never_reaches_an_answer(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    tampered = c.sign(ask(c, ALICE, E18, 3100 * E6))
    kept = c.sign(ask(c, BOB, E18, 3200 * E6))
    async with running_node(cfg) as (_, api):
        for s in (tampered, kept):
            code, body = await api.post_order(s)
            assert code == 201, body
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE orders SET created_at=? WHERE hash=?", (float("inf"), tampered.hash_hex))
    async with running_node(cfg) as (node, api):
        pair = f"baseToken={c.weth.address}&quoteToken={c.usdc.address}"
        for path in (
            f"/v1/orderbook?{pair}",
            "/v1/orders",
            f"/v1/orders/{tampered.hash_hex}",
            f"/v1/orders/{kept.hash_hex}",
        ):
            code, text = await _text(api.session, api.base + path)
            assert code in (200, 404), (path, code, text[:300])
            _strict(text)  # (before: "createdAt": inf, and every page of the book unreadable)
        assert await api.status(kept) == "open"
        assert tampered.hash not in node.book  # (refused at load: not booked)


async def test_a_stored_order_seq_past_the_bound_leaves_new_orders_storable(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    tampered = c.sign(ask(c, ALICE, E18, 3100 * E6))
    async with running_node(cfg) as (_, api):
        code, body = await api.post_order(tampered)
        assert code == 201, body
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE orders SET seq=? WHERE hash=?", (2**63 - 1, tampered.hash_hex))
    later = [c.sign(ask(c, BOB, E18, (3200 + i) * E6)) for i in range(3)]
    async with running_node(cfg) as (_, api):
        for s in later:
            code, body = await api.post_order(s)
            assert code == 201, body
    with sqlite3.connect(cfg.db) as db:
        stored = {h for (h,) in db.execute("SELECT hash FROM orders")}
    # acknowledged, so stored (before: "Python int too large to convert to SQLite INTEGER"
    # for each, the seq after the tampered one's being past SQLite's integers)
    assert {s.hash_hex for s in later} <= stored
