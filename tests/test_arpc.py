"""The async JSON-RPC client against real loopback servers: bounded, hostile answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sdex.chain.arpc import AsyncRpc
from sdex.errors import ContractRevert, RpcError
from tests.conftest import Chain
from tests.nodeutil import serving


@pytest.fixture
async def liar() -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    """A loopback 'RPC' answering whatever ``answer["body"]`` holds."""
    answer = {"body": b"{}"}

    async def handle(_: web.Request) -> web.Response:
        return web.Response(body=answer["body"], content_type="application/json")

    app = web.Application()
    app.router.add_post("/", handle)
    async with serving(app) as url:
        yield url + "/", answer


@pytest.mark.parametrize("depth", [100, 10_000, 1_000_000])
async def test_deep_answers_are_errors_not_crashes(
    liar: tuple[str, dict[str, bytes]], depth: int
) -> None:
    url, answer = liar
    answer["body"] = b'{"jsonrpc":"2.0","id":1,"result":' + b"[" * depth + b"]" * depth + b"}"
    rpc = AsyncRpc(url)
    try:
        with pytest.raises(RpcError, match="bad JSON"):
            await rpc.call("eth_blockNumber")
        with pytest.raises(RpcError, match="bad JSON"):
            await rpc.batch([("eth_blockNumber", [])])
    finally:
        await rpc.close()


async def test_malformed_answers(liar: tuple[str, dict[str, bytes]]) -> None:
    url, answer = liar
    rpc = AsyncRpc(url)
    try:
        for body, what in [
            (b"not json", "bad JSON"),
            (b"[1, 2]", "answered a call with list"),
            (b'{"jsonrpc":"2.0","id":1}', "neither result nor error"),
            (b'{"error": "boom"}', "not an object"),
        ]:
            answer["body"] = body
            with pytest.raises(RpcError, match=what):
                await rpc.call("eth_chainId")
        answer["body"] = b"[]"
        (missing,) = await rpc.batch([("eth_chainId", [])])
        assert isinstance(missing, RpcError) and "unanswered" in str(missing)
        assert rpc.calls["eth_chainId"] == 5 and rpc.requests == 5
    finally:
        await rpc.close()


async def test_real_chain_calls_batches_and_reverts(chain: Chain) -> None:
    rpc = AsyncRpc(chain.rpc.url)
    try:
        assert int(await rpc.call("eth_chainId"), 16) == chain.deployment.chain_id
        number, block = await rpc.batch(
            [("eth_blockNumber", []), ("eth_getBlockByNumber", ["latest", False])]
        )
        assert int(number, 16) == int(block["number"], 16)
        bad = {"to": chain.exchange.address, "data": "0xdeadbeef"}
        with pytest.raises(ContractRevert):
            await rpc.call("eth_call", bad, "latest")
    finally:
        await rpc.close()
