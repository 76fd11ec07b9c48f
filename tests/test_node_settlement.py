"""Settlement and the chain watcher: reverts, outside fills and cancels, funds, events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for, with_minimums
from tests.reorgutil import soft_cancel
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid


@contextlib.asynccontextmanager
async def node_blind_to_alice(
    c: Chain, tmp_path: Path, *others: SignedOrder
) -> AsyncIterator[tuple[Node, Api, SignedOrder]]:
    """A node whose watcher polls once at start and then not for an hour, with ALICE's ask
    (1 WETH at 3000) and ``others`` posted; then ALICE moves her WETH away: the node cannot
    know, so it matches against her order and the chain says no."""
    cfg = node_config(c, tmp_path / "n.db", poll_interval=3600.0)
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        alice = c.sign(ask(c, ALICE, E18, 3000 * E6))
        for s in (alice, *others):
            assert (await api.post_taken(s))[0] == 201
        c.weth.transfer(c.sender(ALICE), c.address(DAVE), c.weth.balance_of(c.address(ALICE)))
        yield node, api, alice


async def test_unfunded_maker_revert_removes_it_and_rematches_taker(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    carol = c.sign(ask(c, CAROL, E18, 3010 * E6))
    async with node_blind_to_alice(c, tmp_path, carol) as (node, api, alice):
        taker = c.sign(bid(c, BOB, E18, 3010 * E6))
        code, body = await api.post_taken(taker)
        assert code == 201
        assert body["matches"][0]["restingOrderHash"] == alice.hash_hex  # then carol, whole units

        async def carol_filled() -> bool:
            return await api.status(carol) == "filled"

        await wait_for(carol_filled)
        assert await api.status(taker) == "filled"
        assert await api.status(alice) == "unfunded"
        assert c.exchange.order_info(carol.order).filled == E18
        assert c.exchange.order_info(alice.order).filled == 0

        async def listed() -> bool:  # (what is committed: a moment after the status)
            _, fills = await api.get("/v1/fills")
            return {f["orderHash"] for f in fills["records"]} == {carol.hash_hex, taker.hash_hex}

        await wait_for(listed)
        # settled: the whole units of carol the taker's 10 quote left after alice could buy
        # at carol's price, in the first batch, then the rest of carol after the rematch
        assert node.settler.failed == 1 and node.settler.settled == 2


async def test_a_lone_match_that_reverts_is_mined_and_rejudged(
    chain: Chain, tmp_path: Path
) -> None:
    """A lone match goes as ``matchOrders`` with no pre-flight: against ALICE's unfunded
    order it is sent, mined reverted, and re-judged (her order out, the taker matched
    again with a spare in a transaction of its own)."""
    c = chain
    async with node_blind_to_alice(c, tmp_path) as (node, api, alice):
        start = int(c.rpc.call("eth_blockNumber"), 16)
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_taken(taker))[0] == 201
        await wait_for(lambda: node.settler.failed == 1)
        spare = c.sign(ask(c, DAVE, E18, 3000 * E6))  # (DAVE holds ALICE's WETH now)
        assert (await api.post_taken(spare))[0] == 201

        async def filled() -> bool:
            return await api.status(taker) == "filled"

        await wait_for(filled)
        assert await api.status(alice) == "unfunded"
        assert c.exchange.order_info(alice.order).filled == 0
        assert c.exchange.order_info(spare.order).filled == E18
        assert node.settler.sent == 2 and node.settler.settled == 1
        statuses = []  # of the operator's transactions since: the revert, then the rematch
        for n in range(start + 1, int(c.rpc.call("eth_blockNumber"), 16) + 1):
            for tx in c.rpc.call("eth_getBlockByNumber", hex(n), True)["transactions"]:
                if tx["from"].lower() == node.settler.sender.address.lower():
                    receipt = c.rpc.call("eth_getTransactionReceipt", tx["hash"])
                    statuses.append(int(receipt["status"], 16))
        assert statuses == [0, 1]


async def test_outside_cancel_and_fill_leave_the_book(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        cancelled = c.sign(ask(c, ALICE, E18, 3000 * E6))
        filled = c.sign(ask(c, CAROL, 2 * E18, 6200 * E6))
        for s in (cancelled, filled):
            assert (await api.post_taken(s))[0] == 201
        c.exchange.cancel_order(c.sender(ALICE), cancelled.order)
        c.exchange.fill_order(c.sender(BOB), filled, 3100 * E6)  # half of it, directly

        async def seen() -> bool:
            _, rec = await api.get(f"/v1/orders/{filled.hash_hex}")
            return await api.status(cancelled) == "cancelled" and rec["metaData"][
                "filledMakerAmount"
            ] == str(E18)

        await wait_for(seen)
        assert cancelled.hash not in node.book
        _, book = await api.get(
            "/v1/orderbook", baseToken=c.weth.address, quoteToken=c.usdc.address
        )
        assert [r["metaData"]["orderHash"] for r in book["asks"]["records"]] == [filled.hash_hex]
        assert book["asks"]["records"][0]["metaData"]["remainingFillableMakerAmount"] == str(E18)

        # the outside fill is in /v1/fills too, marked as not the node's own
        async def listed() -> bool:  # (what is committed: a moment after the status)
            _, fills = await api.get("/v1/fills", orderHash=filled.hash_hex)
            return bool(fills["total"] == 1)

        await wait_for(listed)
        _, fills = await api.get("/v1/fills", orderHash=filled.hash_hex)
        assert fills["total"] == 1 and fills["records"][0]["settledByThisNode"] is False

        c.exchange.fill_order(c.sender(BOB), filled, 3100 * E6)
        await wait_for(lambda: filled.hash not in node.book)
        assert await api.status(filled) == "filled"


async def test_shared_funds_unfunded_and_refunded(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        maker = c.address(ALICE)
        keep = 3 * E18 // 2
        c.weth.transfer(c.sender(ALICE), c.address(DAVE), c.weth.balance_of(maker) - keep)
        first = c.sign(ask(c, ALICE, E18, 3000 * E6))
        second = c.sign(ask(c, ALICE, E18, 3000 * E6))
        for s in (first, second):
            assert (await api.post_taken(s))[0] == 201

        async def fillable(s: object) -> int:
            _, rec = await api.get(f"/v1/orders/{s.hash_hex}")  # type: ignore[attr-defined]
            return int(rec["metaData"]["remainingFillableMakerAmount"])

        # 1.5 WETH shared by two 1-WETH orders, in time priority: 1 + 0.5
        assert (await fillable(first), await fillable(second)) == (E18, E18 // 2)
        c.weth.transfer(c.sender(ALICE), c.address(DAVE), keep)

        async def drained() -> bool:
            return await api.status(first) == "unfunded" and await api.status(second) == "unfunded"

        await wait_for(drained)
        c.weth.transfer(c.sender(DAVE), maker, 5 * E18)

        async def refunded() -> bool:
            return await fillable(first) == E18 and await fillable(second) == E18

        await wait_for(refunded)
        assert await api.status(first) == "open"
        assert len(node.book) == 2


async def test_soft_cancel_by_maker(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        signed = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(signed))[0] == 201
        assert (await soft_cancel(c, api, signed, ALICE))["status"] == "cancelled"
        assert signed.hash not in node.book
        # posting it again does not bring it back
        code, body = await api.post_order(signed)
        assert code == 200 and body["metaData"]["status"] == "cancelled"
        assert len(node.book) == 0


async def test_websocket_streams_order_and_fill_events(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_, api):
        async with api.session.ws_connect(api.base + "/v1/ws") as ws:
            hello = json.loads((await ws.receive(timeout=5)).data)
            assert hello["type"] == "hello"
            resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await api.post_taken(resting))[0] == 201
            assert (await api.post_taken(taker))[0] == 201
            seen: list[dict[str, object]] = []

            async def collect() -> None:
                while sum(e["type"] == "fill" for e in seen) < 2:
                    seen.append(json.loads((await ws.receive(timeout=10)).data))

            await asyncio.wait_for(collect(), 15)
        kinds = [(e["type"], e.get("event")) for e in seen]
        assert ("order", "added") in kinds
        fills = [e for e in seen if e["type"] == "fill"]
        assert {f["orderHash"] for f in fills} == {resting.hash_hex, taker.hash_hex}


async def order_events_until(
    ws: aiohttp.ClientWebSocketResponse, last: SignedOrder
) -> dict[str, list[str]]:
    """The order events the websocket sends, by order hash, until one of ``last`` (15 s at
    most)."""
    events: dict[str, list[str]] = {}

    async def collect() -> None:
        while last.hash_hex not in events:
            e = json.loads((await ws.receive(timeout=10)).data)
            if e["type"] == "order":
                events.setdefault(e["metaData"]["orderHash"], []).append(e["event"])

    await asyncio.wait_for(collect(), 15)
    return events


async def test_websocket_shows_an_order_arrive_before_it_leaves(
    chain: Chain, tmp_path: Path
) -> None:
    """An IOC or FOK order killed at arrival was published ``removed`` and only then
    ``added``: a subscriber saw an order leave before it arrived. Each order's events now
    start with ``added``, and the one it closes with comes after."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_, api):
        async with api.session.ws_connect(api.base + "/v1/ws") as ws:
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"
            ioc = c.sign(ask(c, ALICE, E18, 3000 * E6))
            fok = c.sign(ask(c, BOB, E18, 3001 * E6))
            gtc = c.sign(ask(c, CAROL, E18, 3002 * E6))
            for signed, tif in ((ioc, "ioc"), (fok, "fok"), (gtc, None)):
                code, body = await api.post_taken(signed, tif=tif)
                assert code == 201, body
            events = await order_events_until(ws, gtc)  # the last posted: added comes last
        assert events[ioc.hash_hex] == ["added", "removed"]
        assert events[fok.hash_hex] == ["added", "removed"]
        assert events[gtc.hash_hex] == ["added"]


async def test_an_order_left_with_dust_is_added_then_closed_from_a_wallet_or_a_peer(
    chain: Chain, tmp_path: Path
) -> None:
    """Review findings: a wallet's order whose remainder is dust at arrival (less than one
    whole unit at its price and below the token's minimum: 3 wei for 2, 1 filled on chain,
    a minimum of 3 wei) was closed without any ``added`` event; the same order from a peer
    stayed ``open`` and was offered to peers although the book had dropped it. (Without the
    minimum the 2 wei left rest all or nothing at their own cost: dust38.)"""
    c = chain
    dust = c.sign(ask(c, ALICE, 3, 2))  # a unit is 3 wei at its price
    c.exchange.fill_order(c.sender(BOB), dust, 1)  # 2 left: not one unit, below 3
    from_peer = c.sign(ask(c, DAVE, 3, 2))
    c.exchange.fill_order(c.sender(BOB), from_peer, 1)
    cfg = with_minimums(node_config(c, tmp_path / "n.db"), c, weth=3, usdc=1)
    async with running_node(cfg) as (node, api):
        async with api.session.ws_connect(api.base + "/v1/ws") as ws:
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"
            code, body = await api.post_taken(dust)
            assert code == 201 and body["metaData"]["status"] == "filled", body
            assert await node.submit_from_peer(from_peer.to_json(), "0x" + "ab" * 20) == (
                "accepted"
            )
            rec = node.records[from_peer.hash]
            assert rec.status == "filled" and not rec.announced
            assert (await api.status(from_peer)) == "filled"
            last = c.sign(ask(c, CAROL, E18, 3002 * E6))
            assert (await api.post_taken(last))[0] == 201
            events = await order_events_until(ws, last)
        assert events[dust.hash_hex] == ["added", "filled"]
        assert events[from_peer.hash_hex] == ["added", "filled"]


async def test_busy_node_batches_settlements(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        resting = [c.sign(ask(c, m, E18, 3000 * E6)) for m in (ALICE, CAROL, DAVE, 5, 6)]
        for s in resting:
            assert (await api.post_taken(s))[0] == 201
        takers = [c.sign(bid(c, m, E18, 3000 * E6)) for m in (7, 8, 9, 10, 11)]
        answers = await asyncio.gather(*(api.post_order(t) for t in takers))
        assert all(code == 201 for code, _ in answers)

        async def all_filled() -> bool:
            return all([await api.status(s) == "filled" for s in resting + takers])

        await wait_for(all_filled)
        assert node.settler.settled == 5
        for s in resting:
            assert c.exchange.order_info(s.order).filled == E18
        async with api.session.get(api.base + "/metrics") as r:
            text = await r.text()
        assert "sdex_matches_settled_total 5.0" in text
