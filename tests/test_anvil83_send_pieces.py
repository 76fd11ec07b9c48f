"""anvil83's cuts on the settlement path give what the code before them gave: a JSON-RPC
body written around a raw transaction's hex is the bytes ``json.dumps`` gave (and a real
server reads it as the same call), and a kept block's saved text is ``json.dumps``'s."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.chain.arpc import LARGE_PARAM, AsyncRpc, encode_body

RAW = "0x" + os.urandom(130_000).hex()


def _call(params: Any, method: str = "eth_sendRawTransaction", id_: Any = 7) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}


@pytest.mark.parametrize(
    "body",
    [
        _call([RAW]),
        _call([RAW], "eth_sendRawTransactionSync", 123456789),
        _call([RAW.upper()]),
        _call([RAW + '"']),  # (a quote: escaped, by json.dumps)
        _call([RAW + "\\"]),
        _call([RAW + "\x01"]),  # (a control character)
        _call([RAW + "\x7f"]),
        _call([RAW + "é"]),  # (not ASCII)
        _call([RAW[: LARGE_PARAM - 1]]),  # (short: json.dumps)
        _call([RAW, "latest"]),  # (two parameters)
        _call([RAW], 'm"ethod'),
        _call([RAW], "eth_sendRawTransaction", "an id"),
        _call(RAW),  # (params not a list)
        _call([]),
        _call([5]),
        {"id": 7, "jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [RAW]},
        {"jsonrpc": "2.0", "id": 7, "method": "x", "params": [RAW], "extra": 1},
        [_call([RAW]), _call(["0x1234", "latest"], "eth_getBalance", 8)],  # (a batch)
        [],
    ],
)
def test_a_body_is_the_bytes_json_dumps_gave(body: Any) -> None:
    assert encode_body(body) == json.dumps(body).encode()


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(max_codepoint=0x10FFFF), max_size=80),
    st.integers(min_value=0, max_value=LARGE_PARAM + 40),
    st.one_of(st.integers(), st.text(max_size=8)),
)
def test_any_string_parameter_gives_json_dumps_bytes(tail: str, pad: int, id_: Any) -> None:
    body = _call(["0x" + "ab" * (pad // 2) + tail], "eth_sendRawTransaction", id_)
    assert encode_body(body) == json.dumps(body).encode()


async def test_a_real_server_reads_the_written_body_as_the_call() -> None:
    seen: list[tuple[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.content_type, await request.json()))
        return web.json_response({"jsonrpc": "2.0", "id": seen[-1][1]["id"], "result": "0xab"})

    app = web.Application(client_max_size=4 << 20)
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = AsyncRpc(f"http://127.0.0.1:{port}/")
    try:
        assert await client.call("eth_sendRawTransaction", RAW) == "0xab"
        assert await client.call("eth_getBalance", "0x" + "12" * 20, "latest") == "0xab"
    finally:
        await client.close()
        await runner.cleanup()
    assert [(t, b["method"], b["params"]) for t, b in seen] == [
        ("application/json", "eth_sendRawTransaction", [RAW]),
        ("application/json", "eth_getBalance", ["0x" + "12" * 20, "latest"]),
    ]
