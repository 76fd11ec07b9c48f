"""The websocket's subscribers are bounded per client address and in all: one client that
opened thousands (nothing refused them) would take the node's file descriptors, which its
database, chain and peer connections need too. A refused upgrade is a 429 with the SRA
body (code 103); a closed subscriber gives its slot back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sdex.node.api import WS_MAX_CLIENT_MESSAGE
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for


@contextlib.asynccontextmanager
async def client_from(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client whose connections leave from ``address`` (the node sees it as their remote)."""
    connector = aiohttp.TCPConnector(limit=0, local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as s:
        yield s


async def refused(s: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        await s.ws_connect(url)
    assert e.value.status == 429
    async with s.get(url) as r:  # the same refusal as a plain request, with its body
        return r.status, await r.json()


async def test_websockets_per_address_and_in_all_are_bounded(chain: Chain, tmp_path: Path) -> None:
    cfg = node_config(chain, tmp_path / "n.db", max_ws_per_client=3, max_ws=5)
    async with (
        running_node(cfg) as (node, api),
        client_from("127.0.0.1") as one,
        client_from("127.0.0.2") as two,
    ):
        url = api.base + "/v1/ws"
        first = [await one.ws_connect(url) for _ in range(3)]
        for ws in first:
            assert (await ws.receive_json())["type"] == "hello"
        code, body = await refused(one, url)
        assert code == 429 and body == {
            "code": 103,
            "reason": "Throttled: too many websockets from this address: at most 3 at once",
            "validationErrors": [],
        }
        second = [await two.ws_connect(url) for _ in range(2)]  # 5 in all: the node's bound
        code, body = await refused(two, url)
        assert code == 429 and body["reason"] == (
            "Throttled: too many websockets open on this node: at most 5"
        )
        # the node still answers, and a closed subscriber's slot is taken again
        code, health = await api.get("/health")
        assert code == 200, health
        await first[0].close()
        await wait_for(lambda: len(node.events) == 4)
        again = await two.ws_connect(url)
        assert (await again.receive_json())["type"] == "hello"
        for ws in [*first[1:], *second, again]:
            await ws.close()
        await wait_for(lambda: len(node.events) == 0)
        assert await one.ws_connect(url) is not None


async def test_a_subscriber_sending_a_large_message_is_closed(chain: Chain, tmp_path: Path) -> None:
    """A subscriber has nothing to say but pings: a message of ``WS_MAX_CLIENT_MESSAGE`` closes
    its socket (1009, too big) rather than being buffered (up to 4 MiB each, before), and
    frees its slot; the node serves the others on."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        url = api.base + "/v1/ws"
        quiet = await api.session.ws_connect(url)
        loud = await api.session.ws_connect(url)
        for ws in (quiet, loud):
            assert (await ws.receive_json())["type"] == "hello"
        await loud.send_str("x" * (WS_MAX_CLIENT_MESSAGE + 1))
        msg = await loud.receive(timeout=10)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        assert loud.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        await wait_for(lambda: len(node.events) == 1)
        await quiet.send_str("x" * (WS_MAX_CLIENT_MESSAGE // 2))  # (within the bound: an error)
        assert (await quiet.receive_json(timeout=10))["type"] == "error"  # (not a book request)
        code, _ = await api.get("/health")
        assert code == 200
        node.events.publish({"type": "probe"})
        assert (await quiet.receive_json(timeout=10))["type"] == "probe"
        await quiet.close()
