"""New heads from the RPC's WebSocket: ``eth_subscribe("newHeads")``, each notification's
header handed to the watcher (it then need not ask for the latest block). Its host name is
looked up as the chain client's (``sdex.chain.arpc.BoundedResolver``): aiohttp's own resolver
ran ``getaddrinfo`` in the loop's default executor, a lookup that never answered holding one
of its threads for good, one more each ``RESUBSCRIBE`` (reads77)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import aiohttp

from sdex import jsonio
from sdex.chain.arpc import BoundedResolver
from sdex.errors import JsonLimitError
from sdex.mirror import Header
from sdex.mirror.seal import sealed
from sdex.wsredirects import refuse_ws_redirects

RESUBSCRIBE = 5.0
"""Seconds between attempts to (re)open the newHeads subscription."""
MAX_MESSAGE = 1 << 20
"""Largest WebSocket message read (a header is ~1 KB)."""
MAX_ID = 130
"""Longest subscription id taken (geth's and Hardhat's are 34 characters, "0x" and 128 bits)."""


async def follow_heads(
    rpc_url: str,
    on_head: Callable[[Header | None], None],
    on_subscribed: Callable[[bool], None],
) -> None:
    """Follow new heads until cancelled: ``on_head(header)`` per notification (None when
    it carried no readable header), ``on_subscribed`` when the subscription opens or is
    lost (reopened every ``RESUBSCRIBE`` seconds). Returns when the RPC refuses it. An
    upgrade answered with a redirect is refused (``sdex.wsredirects``), as a failed one.
    Only our subscription's notifications are taken (watch80: one of any ``subscription``,
    another subscription's on the same socket or one before ours was answered, was handed
    on as a new head)."""
    url = "ws" + rpc_url.removeprefix("http")
    while True:
        try:
            async with (
                aiohttp.ClientSession(  # (its name looked up as the chain client's: left75)
                    connector=aiohttp.TCPConnector(resolver=BoundedResolver()),
                    middlewares=(refuse_ws_redirects,),
                ) as session,
                session.ws_connect(url, max_msg_size=MAX_MESSAGE, heartbeat=30) as ws,
            ):
                await ws.send_json(
                    {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
                )
                ours: str | None = None  # (the subscription's id, once answered)
                async for msg in ws:
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    try:
                        body = jsonio.loads(
                            msg.data, max_bytes=MAX_MESSAGE, max_depth=8, floats=True
                        )
                    except JsonLimitError:
                        continue
                    if not isinstance(body, dict):
                        continue
                    if body.get("id") == 1 and ours is None:
                        ours = _subscription(body.get("result"))
                        if ours is None:  # (no id we could tell its notifications by)
                            on_subscribed(False)
                            return  # the RPC does not offer it: the watcher polls
                        on_subscribed(True)
                    elif body.get("method") == "eth_subscription" and ours is not None:
                        params = body.get("params")
                        if isinstance(params, dict) and params.get("subscription") == ours:
                            on_head(_header(params))
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        on_subscribed(False)
        on_head(None)  # poll now: heads may have come while unsubscribed
        await asyncio.sleep(RESUBSCRIBE)


def _subscription(result: object) -> str | None:
    """The subscription id ``eth_subscribe`` answered (None: none, or not one)."""
    if isinstance(result, str) and 0 < len(result) <= MAX_ID:
        return result
    return None


def _header(params: object) -> Header | None:
    """A notification's header, ``sealed`` whether its hash is of its fields (watch89)."""
    result = params.get("result") if isinstance(params, dict) else None
    try:
        return replace(Header.from_rpc(result), sealed=sealed(result))
    except ValueError:
        return None
