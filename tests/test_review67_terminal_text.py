"""review67: text a hostile node, chain or token gives a wallet command never reaches the
user's terminal as control characters (ESC starts a sequence that may clear the screen,
retitle the window or rewrite what was printed above: an honest-looking line forged).

Before: an error's words were printed as the node or chain said them (``print_error`` escapes
Rich's markup only), so were ``sdex balance``'s words for a token whose call reverted (a
token's revert reason is its author's), and a token symbol in ``order_config`` was taken as
any string. Now the control characters of such text are shown escaped (``\\x1b``), and a
symbol that is not a short printable name is refused as the node's protocol error."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientSession, web

from tests.conftest import Chain
from tests.fakenode import fake_node, order_config, run_cli
from tests.nodeutil import serving

EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[1A"
"""A window title set, the screen cleared, the cursor moved up."""


def _clean(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text, repr(text)


def _answering(status: int, body: object) -> web.Application:
    async def config(_: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_get("/v1/order_config", config)
    return app


async def test_a_nodes_error_reason_is_printed_escaped() -> None:
    async with serving(_answering(400, {"code": 100, "reason": f"refused{EVIL}"})) as url:
        r = await asyncio.to_thread(run_cli, "book", "--node", url)
    assert r.exit_code == 1, r.output
    _clean(r.output)
    assert "refused\\x1b]0;pwned" in r.output, r.output


async def test_a_token_symbol_a_terminal_acts_on_is_refused(chain: Chain) -> None:
    c = chain
    config = order_config(c.domain, c.weth.address, c.usdc.address)
    config["tokens"] = {f"W{EVIL}": config["tokens"]["WETH"], "USDC": config["tokens"]["USDC"]}
    async with serving(_answering(200, config)) as url:
        r = await asyncio.to_thread(run_cli, "book", "--node", url)
    assert r.exit_code == 1, r.output
    _clean(r.output)
    assert "order_config lists a token symbol" in r.output, r.output


def _hostile_rpc(upstream: str, token: str) -> web.Application:
    """The chain's RPC, but a ``balanceOf`` call to ``token`` reverts with ``EVIL`` in its
    words (as a node answering for a token whose revert reason is its author's)."""
    session: list[ClientSession] = []

    async def one(call: dict[str, Any]) -> dict[str, Any]:
        params = call.get("params") or []
        to = params[0].get("to", "") if params and isinstance(params[0], dict) else ""
        data = params[0].get("data", "") if params and isinstance(params[0], dict) else ""
        if call.get("method") == "eth_call" and to.lower() == token and data[:10] == "0x70a08231":
            err = {"code": 3, "message": f"execution reverted: {EVIL}", "data": "0x"}
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": err}
        async with session[0].post(upstream, json=call) as resp:
            answer: dict[str, Any] = await resp.json()
            return answer

    async def rpc(request: web.Request) -> web.Response:
        if not session:
            session.append(ClientSession())
        body = json.loads(await request.read())
        if isinstance(body, list):
            return web.json_response([await one(c) for c in body])
        return web.json_response(await one(body))

    async def closed(_: web.Application) -> None:
        for s in session:
            await s.close()

    app = web.Application()
    app.router.add_post("/", rpc)
    app.on_cleanup.append(closed)
    return app


async def test_balance_says_a_tokens_revert_escaped(chain: Chain) -> None:
    c = chain
    me = c.address(5)
    weth = c.weth.address.lower()
    with fake_node() as node:
        node.config = order_config(c.domain, c.weth.address, c.usdc.address)
        async with serving(_hostile_rpc(c.deployment.rpc, weth)) as rpc:
            args = ["balance", "--node", node.url, "--rpc", rpc + "/", "--address", me]
            r = await asyncio.to_thread(run_cli, *args)
    assert r.exit_code == 1, r.output
    _clean(r.output)
    assert "WETH: not read: its balanceOf reverted" in " ".join(r.output.split()), r.output
    assert "\\x1b[2J" in r.output, r.output
