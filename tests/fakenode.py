"""A canned node for wallet tests: a real aiohttp server on 127.0.0.1, in its own thread, that
answers the HTTP API like a node (order_config, book, orders, fills, posts and cancels) and
records what the wallet sent. Used by the wallet commands' and the console's tests."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web
from click.testing import CliRunner, Result

from sdex.cli import main
from sdex.order import (
    ZERO_ADDRESS,
    Domain,
    Order,
    SignedOrder,
    address_of,
    random_salt,
    sign_order,
)
from sdex.typeddata import EIP712_TYPES

KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
MAKER = address_of(KEY)
EXCHANGE = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
WETH = "0x" + "11" * 20
USDC = "0x" + "22" * 20
FEE_TO = "0x" + "44" * 20
DOMAIN = Domain(31337, EXCHANGE)
E18, E6 = 10**18, 10**6

Answer = tuple[int, dict[str, Any]]


def order_config(domain: Domain, weth: str, usdc: str, fee_bps: int = 0) -> dict[str, Any]:
    return {
        "chainId": domain.chain_id,
        "exchange": domain.verifying_contract,
        "domain": domain.to_json(),
        "types": copy.deepcopy(EIP712_TYPES),
        "primaryType": "Order",
        "feeRecipient": FEE_TO if fee_bps else ZERO_ADDRESS,
        "feeBps": fee_bps,
        "tokens": {
            "WETH": {"address": weth, "decimals": 18},
            "USDC": {"address": usdc, "decimals": 6},
        },
    }


def meta(signed: SignedOrder, remaining: int, status: str = "open") -> dict[str, Any]:
    return {
        "orderHash": signed.hash_hex,
        "status": status,
        "filledMakerAmount": str(signed.order.maker_amount - remaining),
        "remainingFillableMakerAmount": str(remaining),
    }


def page(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total": len(records), "page": 1, "perPage": 100, "records": records}


class FakeNode:
    """A real aiohttp server on 127.0.0.1, in its own thread and loop, answering the wallet's
    requests like a node would; it records what the wallet sent."""

    def __init__(self) -> None:
        self.config = order_config(DOMAIN, WETH, USDC)
        self.book: dict[str, Any] = {"bids": page([]), "asks": page([])}
        self.records: dict[str, dict[str, Any]] = {}
        self.posted: list[dict[str, Any]] = []
        self.cancels: list[tuple[str, dict[str, Any]]] = []
        self.queries: list[dict[str, str]] = []
        self.order_list: list[dict[str, Any]] = []  # GET /v1/orders, paged
        self.fill_list: list[dict[str, Any]] = []  # GET /v1/fills, paged
        self.max_per_page = 1000  # lower it to make a wallet read several pages
        self.order_delay = 0.0  # seconds GET /v1/orders/{hash} waits before it answers
        self.cancel_status = "cancelled"  # the status a soft cancel answers
        self.on_post: Callable[[SignedOrder], Answer] = self.rested
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._ready = threading.Event()

    def rested(self, signed: SignedOrder) -> Answer:
        m = meta(signed, signed.order.maker_amount)
        return 201, {**m, "metaData": m, "outcome": "rested", "matches": []}

    # -- handlers ----------------------------------------------------------------------------
    async def get_config(self, _: web.Request) -> web.Response:
        return web.json_response(self.config)

    async def get_book(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        return web.json_response(self.book)

    async def post_order(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posted.append(body)
        order = {k: v for k, v in body.items() if k != "timeInForce"}
        domain = Domain(self.config["chainId"], self.config["exchange"])
        status, answer = self.on_post(SignedOrder.from_json(order, domain))
        return web.json_response(answer, status=status)

    def paged(self, request: web.Request, records: list[dict[str, Any]]) -> web.Response:
        self.queries.append(dict(request.query))
        n = int(request.query.get("cursor", request.query.get("page", "1")))
        per = min(int(request.query.get("perPage", "100")), self.max_per_page)
        chunk = records[(n - 1) * per : n * per]
        more = str(n + 1) if n * per < len(records) else None  # (the next page's number)
        return web.json_response(
            {"total": len(records), "page": n, "perPage": per, "records": chunk, "next": more}
        )

    async def get_orders(self, request: web.Request) -> web.Response:
        return self.paged(request, self.order_list)

    async def get_fills(self, request: web.Request) -> web.Response:
        return self.paged(request, self.fill_list)

    async def get_order(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.order_delay)
        rec = self.records.get(request.match_info["hash"])
        if rec is None:
            return web.json_response({"code": 100, "reason": "order not found"}, status=404)
        return web.json_response(rec)

    async def post_cancel(self, request: web.Request) -> web.Response:
        h = request.match_info["hash"]
        self.cancels.append((h, await request.json()))
        return web.json_response({"orderHash": h, "status": self.cancel_status})

    # -- lifecycle ---------------------------------------------------------------------------
    def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/order_config", self.get_config)
        app.router.add_get("/v1/orderbook", self.get_book)
        app.router.add_post("/v1/orders", self.post_order)
        app.router.add_get("/v1/orders", self.get_orders)
        app.router.add_get("/v1/orders/{hash}", self.get_order)
        app.router.add_get("/v1/fills", self.get_fills)
        app.router.add_post("/v1/orders/{hash}/cancel", self.post_cancel)
        runner = web.AppRunner(app, access_log=None)
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "the fake node did not start"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


RUNNING: dict[str, FakeNode] = {}
"""The started fake nodes by URL (``run_cli``'s deployment file of the fake's network)."""


@contextlib.contextmanager
def fake_node() -> Iterator[FakeNode]:
    """A started ``FakeNode``, stopped on exit (each test module's ``fake`` fixture)."""
    node = FakeNode()
    node.start()
    RUNNING[node.url] = node
    try:
        yield node
    finally:
        RUNNING.pop(node.url, None)
        node.stop()


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """``sdex`` run in a directory of its own which, when ``--node`` is a running fake, holds
    a deployment file of that fake's network at the default path (its chain id, Exchange and
    tokens as it serves them at the call): the wallet checks the listing against it as a
    user's ``.sdex/devnet.json`` (trust77), silently when they agree."""
    runner = CliRunner()
    # (a directory of its own, as ``CliRunner.isolated_filesystem`` made: deprecated, to go in
    # Click 9.0; its DeprecationWarning was 152 of CI's 152 warnings)
    with tempfile.TemporaryDirectory() as where, contextlib.chdir(where):
        url = next((b for a, b in itertools.pairwise(args) if a == "--node"), "")
        if url in RUNNING:
            network_file(RUNNING[url], Path(".sdex/devnet.json"))
        return runner.invoke(main, list(args), input=input, env={"COLUMNS": "200", **(env or {})})


def network_file(fake: FakeNode, path: Path) -> Path:
    """A deployment file at ``path`` of the network ``fake``'s config names (junk left out: a
    config the wallet refuses is refused before its listing is checked), as a user's file of
    the network would be; ``path``."""
    config = fake.config
    tokens = config.get("tokens")
    body = {
        "chainId": config.get("chainId"),
        "rpc": "http://127.0.0.1:1",
        "exchange": config.get("exchange"),
        "deployBlock": 0,
        "tokens": {
            s: {"address": t.get("address"), "decimals": t.get("decimals")}
            for s, t in (tokens.items() if isinstance(tokens, dict) else ())
            if isinstance(t, dict)
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return path


def wallet_args(fake: FakeNode, key: bytes = KEY) -> list[str]:
    return ["--node", fake.url, "--key", "0x" + key.hex()]


def signed(maker_token: str, taker_token: str, maker_amount: int, taker_amount: int) -> SignedOrder:
    order = Order(
        MAKER, ZERO_ADDRESS, maker_token, taker_token, maker_amount, taker_amount,
        ZERO_ADDRESS, 0, 2_000_000_000, random_salt(),
    )  # fmt: skip
    return sign_order(order, DOMAIN, KEY)


def posted_order(fake: FakeNode) -> SignedOrder:
    (body,) = fake.posted
    return SignedOrder.from_json({k: v for k, v in body.items() if k != "timeInForce"}, DOMAIN)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
