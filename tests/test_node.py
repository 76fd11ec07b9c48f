"""The node end to end: real Hardhat chain, real aiohttp server on loopback, real HTTP."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from eth_account import Account

from sdex import fillmath
from sdex.node.core import Node
from sdex.order import Order, SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for

E18 = 10**18
E6 = 10**6
ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4


def ask(c: Chain, maker: int, base: int, quote: int, **kw: Any) -> Order:
    return c.order(maker, c.weth, base, c.usdc, quote, **kw)


def bid(c: Chain, maker: int, base: int, quote: int, **kw: Any) -> Order:
    return c.order(maker, c.usdc, quote, c.weth, base, **kw)


@contextlib.asynccontextmanager
async def node_with_resting_ask(c: Chain, db: Path) -> AsyncIterator[tuple[Node, Api, SignedOrder]]:
    """A node on ``db`` holding one acknowledged ask: Alice sells 1 WETH for 3,000 USDC."""
    async with running_node(node_config(c, db)) as (node, api):
        resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(resting))[0] == 201
        yield node, api, resting


def wallet_sign(config: dict[str, Any], order: Order, key: bytes) -> dict[str, Any]:
    """What a wallet does with ``order_config``: build the typed data and sign it (v4)."""
    typed = {
        "types": config["types"],
        "primaryType": config["primaryType"],
        "domain": config["domain"],
        "message": order.to_message(),
    }
    sig = Account.sign_typed_data(key, full_message=typed).signature
    return {**order.to_json(), "signature": "0x" + bytes(sig).hex()}


async def test_wallet_flow_from_order_config_to_settled_fill(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        code, config = await api.get("/v1/order_config")
        assert code == 200 and config["chainId"] == c.deployment.chain_id
        resting = ask(c, ALICE, 2 * E18, 6000 * E6)
        code, body = await api.post("/v1/orders", wallet_sign(config, resting, c.keys[ALICE]))
        assert code == 201, body
        resting_hash = body["orderHash"]
        assert resting_hash == "0x" + c.domain.order_hash(resting).hex()
        code, book = await api.get(
            "/v1/orderbook", baseToken=c.weth.address, quoteToken=c.usdc.address
        )
        assert code == 200 and book["asks"]["total"] == 1 and book["bids"]["total"] == 0
        assert book["asks"]["records"][0]["metaData"]["remainingFillableMakerAmount"] == str(
            2 * E18
        )

        weth_before = c.weth.balance_of(c.address(BOB))
        incoming = bid(c, BOB, E18, 3100 * E6)
        code, body = await api.post("/v1/orders", wallet_sign(config, incoming, c.keys[BOB]))
        assert code == 201, body
        assert len(body["matches"]) == 1

        async def settled() -> bool:
            _, fills = await api.get("/v1/fills")
            return int(fills["total"]) == 2

        await wait_for(settled)
        code, rec = await api.get(f"/v1/orders/{body['orderHash']}")
        assert rec["metaData"]["status"] == "filled"
        code, rec = await api.get(f"/v1/orders/{resting_hash}")
        assert rec["metaData"]["status"] == "partially_filled"
        # the trade is at the resting price: BOB's 3100 USDC buy 3100/3000 WETH
        x = fillmath.match_amounts(2 * E18, 6000 * E6, 0, 0, 3100 * E6, E18, 0, 0).left_filled
        assert x == 3100 * E18 // 3000
        assert rec["metaData"]["filledMakerAmount"] == str(x)
        assert c.weth.balance_of(c.address(BOB)) == weth_before + x
        assert c.exchange.order_info(resting).filled == x
        assert node.settler.settled == 1

        async def stored_as_shown() -> bool:  # the store's row says what the API says
            row = node.store.order(resting_hash)
            return row is not None and (row.status, row.filled) == ("partially_filled", x)

        await wait_for(stored_as_shown)


async def test_repeat_post_is_idempotent(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_, api):
        signed = c.sign(ask(c, ALICE, E18, 3000 * E6))
        code, _ = await api.post_taken(signed)
        assert code == 201
        code, body = await api.post_order(signed)
        assert code == 200 and body["metaData"]["orderHash"] == signed.hash_hex
        _, page = await api.get("/v1/orders")
        assert page["total"] == 1


async def test_a_node_without_peers_rests_an_order_for_later_peers_and_pushes_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    """With no peer, a resting order is not queued for pushes (nobody to push to), yet it
    is marked announced: a peer that connects later is shown it (anti-entropy). Nothing
    was passed on, so nothing is timed either (``forwardTiming``: its clocks are system
    calls, skipped when there is no peer)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        assert node.gossip is not None and len(node.gossip.peers) == 0
        signed = c.sign(ask(c, ALICE, E18, 3000 * E6))
        code, body = await api.post_taken(signed)
        assert code == 201 and body["status"] == "open"
        assert node.records[signed.hash].announced
        assert [r.signed.hash for r in node._gossiped_records()] == [signed.hash]
        assert node.forwarding.handed == 0
        w = node.forwarding.to_json()["wallet"]
        assert w["orders"] == 0 and w["cpuS"] == w["wallS"] == w["sentWallS"] == 0


async def test_an_accepted_order_is_answered_as_json_with_its_rate_limit(
    chain: Chain, tmp_path: Path
) -> None:
    """The 201's bytes are ``json.dumps`` of its body, typed as ``json_response`` types
    them, with the rate-limit headers every answer carries."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_, api):
        signed = c.sign(ask(c, ALICE, E18, 3000 * E6))
        async with api.session.post(api.base + "/v1/orders", json=signed.to_json()) as r:
            raw = await r.read()
            assert r.status == 201
            assert r.headers["Content-Type"] == "application/json; charset=utf-8"
            assert int(r.headers["Content-Length"]) == len(raw)
            assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
                r.headers
            )
        body = json.loads(raw)
        assert raw == json.dumps(body).encode()
        assert body["orderHash"] == signed.hash_hex and body["status"] == "open"


async def test_a_wallet_is_told_of_a_peers_order_only_once_it_is_committed(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding: a peer's order is stored lazily (up to 100 ms later, nobody waits); a
    wallet posting the same order then got its 2xx while the row was only queued, and a
    crash would have lost an order this node acknowledged."""
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        order = c.sign(ask(c, CAROL, E18, 9000 * E6))
        assert await node.submit_from_peer(dict(order.to_json()), "ab" * 32) == "accepted"
        code, body = await api.post_order(order)  # a wallet's retry, or a failover
        assert code == 200 and body["order"] == order.to_json(), body
        with contextlib.closing(sqlite3.connect(db)) as ro:  # what a crash would leave
            rows = ro.execute("SELECT status FROM orders WHERE hash=?", (order.hash_hex,))
            assert rows.fetchall() == [("open",)]


async def test_a_peers_chunk_is_judged_as_each_of_its_orders_alone(
    chain: Chain, tmp_path: Path
) -> None:
    """``submit_many_from_peer`` (no task per order): in order, the verdicts each order gets
    alone; a copy twice in one chunk is booked once; every new order is stored and rests."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        fresh = [c.sign(ask(c, CAROL, E18, (9000 + i) * E6)) for i in range(5)]
        held = c.sign(ask(c, CAROL, E18, 9900 * E6))
        assert await node.submit_from_peer(dict(held.to_json()), "ab" * 32) == "accepted"
        forged = dict(fresh[0].to_json(), makerAmount=str(2 * E18))  # not what was signed
        chunk: list[object] = [
            *(dict(s.to_json()) for s in fresh[:3]),
            dict(fresh[1].to_json()),  # the same order again in this chunk
            {"makerAmount": []},  # malformed
            forged,
            dict(held.to_json()),
            *(dict(s.to_json()) for s in fresh[3:]),
        ]
        got = await node.submit_many_from_peer(chunk, "ab" * 32)
        assert got == [
            *["accepted"] * 3, "known", "forged", "rejected", "known", *["accepted"] * 2,
        ]  # fmt: skip
        assert node.known_copy(dict(held.to_json()))  # (gossip answers such a push at once)
        tampered = dict(held.to_json(), makerAmount=str(2 * E18))  # held, one field changed
        assert not node.known_copy(tampered)
        # (a tampered one: its charge waits for a later block, signer78)
        assert await node.submit_from_peer(tampered, "ab" * 32) == "rejected"
        assert len(node.unproven) == 2  # (charged if its maker still has no code later)
        for s in fresh:
            rec = node.records[s.hash]
            assert rec.source == "peer:" + "ab" * 32 and rec.announced
            assert s.hash in node.book
        assert len(node.records) == 6
        await wait_for(lambda: all(node.store.order(s.hash_hex) is not None for s in fresh))
