"""review67: a chain endpoint that lies in its ``eth_call`` answers (a number, no hex, null,
or ABI words whose strings are not UTF-8) is a ``ChainError`` of the contract's read, said as
one line by the wallet commands that read the chain (``sdex balance``, ``sdex cancel
--onchain``: ``sdex.walletchain.node_chain`` reads the Exchange's domain first).

Before: ``Exchange._call`` took ``raw[2:]`` of whatever came and ``bytes.fromhex`` of it, and
eth-abi's ``UnicodeDecodeError`` of a string passed through ``decode_output``: ``TypeError``,
``ValueError`` and ``UnicodeDecodeError`` tracebacks. A real loopback JSON-RPC server lies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from sdex.chain.abi import encode
from tests.fakenode import fake_node, run_cli
from tests.nodeutil import serving

DOMAIN_TYPES = ["bytes1", "string", "string", "uint256", "address", "bytes32", "uint256[]"]


def _not_utf8() -> str:
    """``eip712Domain``'s words with a name of two bytes that are no UTF-8 (0xff 0xfe)."""
    words = encode(["bytes1", "bytes", "string", "uint256", "address", "bytes32", "uint256[]"],
                   [b"\x0f", b"\xff\xfe", "1", 1, "0x" + "11" * 20, bytes(32), []])  # fmt: skip
    return "0x" + words.hex()  # (bytes and string share their encoding)


def _liar(result: object) -> web.Application:
    async def rpc(request: web.Request) -> web.Response:
        body = await request.json()

        def one(c: dict[str, Any]) -> dict[str, Any]:
            said = result if c["method"] == "eth_call" else "0x10"
            return {"jsonrpc": "2.0", "id": c["id"], "result": said}

        return web.json_response([one(c) for c in body] if isinstance(body, list) else one(body))

    app = web.Application()
    app.router.add_post("/", rpc)
    return app


@pytest.mark.parametrize("result", [5, "0xzz", None, "0x123", "not-utf8"])
async def test_a_lying_chain_is_one_line_of_error(result: object) -> None:
    said = _not_utf8() if result == "not-utf8" else result
    with fake_node() as node:
        async with serving(_liar(said)) as url:
            args = [
                "balance",
                "--node",
                node.url,
                "--rpc",
                url + "/",
                "--address",
                "0x" + "33" * 20,
            ]
            r = await asyncio.to_thread(run_cli, *args)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), repr(r.exception)
    assert "error:" in r.output and "eip712Domain" in r.output, r.output
