"""events49: a resting order matched by a wallet's crossing order is ``partially_filled``
"from the match on" (README, ``sdex order``'s words): its websocket event and its stored row
follow the match at once, not the settlement's result.

Before, the match only marked the orders touched (``OrderRegistry.matched``); the registry's
``sync``, which stores and publishes what moved, ran at the next settlement result or block
(or at an intake limit). ``GET /v1/orders/{hash}`` (the book's live state) said
``partially_filled`` right after the bid's 201, while the ask's websocket event and its row
(``GET /v1/orders?status=``) said nothing, or ``open``, until the settlement was mined: with
blocks mined on demand, never. Here no block is mined between the bid and the checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for

ALICE, BOB = 1, 2
WETH = 10**18
EVENT_WAIT = 5.0
"""Seconds the ask's event is waited for after the bid's 201 (it comes in milliseconds)."""


async def order_event(
    ws: aiohttp.ClientWebSocketResponse, h: str, within: float, seen: list[Any] | None = None
) -> Any:
    """The next order event of order ``h`` on ``ws`` (other messages skipped; the other
    orders' events appended to ``seen``), or None if none comes within ``within`` seconds."""
    while True:
        try:
            msg = await ws.receive(timeout=within)
        except TimeoutError:
            return None
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        ev = json.loads(msg.data)
        if ev.get("type") == "order" and ev["metaData"]["orderHash"] == h:
            return ev
        if ev.get("type") == "order" and seen is not None:
            seen.append(ev)


async def listed(api: Api, status: str, signed: SignedOrder) -> bool:
    """Whether ``GET /v1/orders?status=`` (read from the stored rows) lists ``signed``."""
    body = await api.listing("/v1/orders", status=status, maker=signed.order.maker)
    return any(r["metaData"]["orderHash"] == signed.hash_hex for r in body["records"])


async def test_a_matched_asks_event_and_row_follow_the_match_not_the_settlement(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_node, api):
        ask = c.sign(c.order(ALICE, c.weth, WETH, c.usdc, 2000 * 10**6))
        ws = await api.session.ws_connect(api.base + "/v1/ws")
        try:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            assert (await api.post_taken(ask))[0] == 201
            added = await order_event(ws, ask.hash_hex, EVENT_WAIT)
            assert added is not None and added["event"] == "added"
            c.rpc.call("evm_setAutomine", False)  # the settlement waits in the pool
            try:
                head = c.rpc.call("eth_blockNumber")
                bid = c.sign(c.order(BOB, c.usdc, 800 * 10**6, c.weth, 4 * WETH // 10))
                code, body = await api.post_taken(bid)
                assert code == 201 and body["outcome"] == "filled", body
                # the ask's event, no block mined: the match's, not the settlement's
                others: list[Any] = []
                ev = await order_event(ws, ask.hash_hex, EVENT_WAIT, others)
                assert ev is not None, "no event for the matched ask before the settlement"
                # the bid's own events: ``added`` first, then (perhaps after the ask's) its
                # ``partially_filled`` (matched in full, pending), still before any block
                bids = [e["event"] for e in others if e["metaData"]["orderHash"] == bid.hash_hex]
                if len(bids) < 2:
                    more = await order_event(ws, bid.hash_hex, EVENT_WAIT)
                    bids.append(more["event"] if more is not None else None)
                assert bids == ["added", "partially_filled"], bids
                meta = ev["metaData"]
                assert ev["event"] == "partially_filled", ev
                assert meta["filledMakerAmount"] == "0"
                assert meta["pendingMakerAmount"] == str(4 * WETH // 10)
                code, rec = await api.get(f"/v1/orders/{ask.hash_hex}")
                assert code == 200 and rec["metaData"]["status"] == "partially_filled"
                assert await listed(api, "partially_filled", ask)
                assert not await listed(api, "open", ask)
                assert c.rpc.call("eth_blockNumber") == head  # (nothing mined meanwhile)
                c.rpc.call("evm_mine")
            finally:
                c.rpc.call("evm_setAutomine", True)

            async def mined() -> bool:
                code, rec = await api.get(f"/v1/orders/{ask.hash_hex}")
                return code == 200 and rec["metaData"]["filledMakerAmount"] == str(4 * WETH // 10)

            await wait_for(mined, timeout=30)
        finally:
            await ws.close()
