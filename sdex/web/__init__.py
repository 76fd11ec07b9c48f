"""The web page every node serves at ``/`` (PRODUCT.md section 3, "Web page").

Static files only, no build step: ``static/index.html`` loads ``app.js`` (plain ES modules)
and the signing library, ethers' browser bundle, which the node serves from the
``node_modules`` that ``npm ci`` installed from the committed package-lock.json. Nothing is
loaded from outside the machine; the Content-Security-Policy says so to the browser too.

Besides the public API the page uses three small read-only routes of its own:

- ``GET /web/status``: the chain head the node sees (its number, ``head``, and hash,
  ``headHash``: the page reads its funds again when either moves, user81: a reorg that mined
  as many blocks as it undid, or a reset back to the same height, kept the number), its
  watcher's checkpoint and lag, and the settlements in flight (sent transactions not yet
  mined, with the matches they carry);
- ``GET /web/orders?hash=...``: the records (``order`` and ``metaData``, as
  ``/v1/orders/{hash}`` has them) of the orders that fills name, null for those it never
  held (a taker matched in full on another node is never gossiped); charged to the client's
  listing budget and to the node-wide total, a record a hash (``sdex.node.listings``; 503
  when the total is spent);
- ``GET /web/dev-wallets``: the deployment's dev keys, only when the node was started with
  ``--dev-wallets`` (devnet chains only) and only to loopback clients.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

from sdex.deployment import OPERATOR_ACCOUNTS, DevAccount
from sdex.errors import ChainError
from sdex.node.core import Node
from sdex.node.listings import LANE_KEY, listed, listing
from sdex.node.pages import json_answer, order_text

log = logging.getLogger("sdex.web")

STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "app.js": "text/javascript",
    "units.js": "text/javascript",
    "style.css": "text/css",
}
ETHERS_REL = Path("node_modules/ethers/dist/ethers.min.js")
ETHERS_ENV = "SDEX_ETHERS_JS"
MAX_LOOKUP = 50
_HASH_RE = re.compile(r"0x[0-9a-fA-F]{64}\Z")
_QUANTITY_RE = re.compile(r"0x[0-9a-fA-F]{1,16}\Z")
HEAD_CACHE_SECONDS = 0.5
"""The chain head is read at most this often, however many pages ask."""
HEAD_READ = 2.0
"""Seconds a read of the chain head may take (chainhang33: a hung chain held the page's
status read for the client's 30 s, and the page said the node itself did not answer)."""


def find_ethers(start: Path | None = None) -> Path | None:
    """The ethers browser bundle: ``$SDEX_ETHERS_JS``, else ``node_modules`` in the working
    directory or the repository this package lives in (``npm ci`` put it there)."""
    env = os.environ.get(ETHERS_ENV)
    if env:
        p = Path(env)
        return p if p.is_file() else None
    for root in (start or Path.cwd(), Path(__file__).resolve().parents[2]):
        p = root / ETHERS_REL
        if p.is_file():
            return p
    return None


def head_of(block: object) -> tuple[int, str]:
    """A block's number and hash (``eth_getBlockByNumber``'s answer); ``ValueError`` if it
    is not a block's."""
    if not isinstance(block, dict):
        raise ValueError("the chain's latest block is not an object")
    number, block_hash = block.get("number"), block.get("hash")
    if not (isinstance(number, str) and _QUANTITY_RE.match(number)):
        raise ValueError("the chain's latest block has no number")
    if not (isinstance(block_hash, str) and _HASH_RE.match(block_hash)):
        raise ValueError("the chain's latest block has no hash")
    return int(number, 16), block_hash.lower()


def is_loopback(remote: str | None) -> bool:
    if remote is None:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class WholeFile(web.FileResponse):
    """A file of the page, always whole: a ``Range`` (and ``If-Range``) is ignored, as a
    server may (RFC 9110 14.2), and ``Accept-Ranges: none`` said. The files are small (the
    largest, ethers' bundle, ~0.5 MB). edge94: aiohttp's ranges answered ``bytes=-0`` (a
    suffix of 0 bytes: unsatisfiable) 206 with the whole file, and an unsatisfiable or
    unparsed range (``bytes=0-1,4-5``, ``items=0-1``) 416 with no body under the file's
    content type. Conditional requests (``If-None-Match``, ``If-Modified-Since``: 304)
    are kept."""

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:  # (written already, by ``sdex.node.sending``: aiohttp asks again)
            return await web.StreamResponse.prepare(self, request)
        if hdrs.RANGE in request.headers or hdrs.IF_RANGE in request.headers:
            kept = request.headers.copy()
            kept.popall(hdrs.RANGE, None)
            kept.popall(hdrs.IF_RANGE, None)
            request = request.clone(headers=kept)  # (the same connection and writer)
        return await super().prepare(request)

    async def _prepare_headers(self) -> None:
        self._headers[hdrs.ACCEPT_RANGES] = "none"  # (after aiohttp's "bytes", before sent)
        await super()._prepare_headers()


class WebPage:
    """The page's routes over one node."""

    def __init__(self, node: Node, ethers: Path | None) -> None:
        self.node = node
        self.ethers = ethers
        self._head = 0
        self._head_hash = ""
        self._head_at = 0.0
        rpc = node.config.rpc
        rpc_origin = ""
        if node.config.dev_accounts:
            u = urlsplit(rpc)
            rpc_origin = f" {u.scheme}://{u.netloc}"
        # Same origin only (websocket included); dev wallets also talk to the devnet's RPC.
        self.csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{rpc_origin}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )

    def _headers(self, content_type: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "Cache-Control": "no-cache",
            "Content-Security-Policy": self.csp,
            "X-Content-Type-Options": "nosniff",
        }

    async def index(self, request: web.Request) -> web.StreamResponse:
        return WholeFile(STATIC / "index.html", headers=self._headers("text/html; charset=utf-8"))

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        kind = STATIC_FILES.get(name)  # a fixed list: no path from the request reaches the disk
        if kind is None:
            raise web.HTTPNotFound(reason="no such file")
        return WholeFile(STATIC / name, headers=self._headers(kind + "; charset=utf-8"))

    async def ethers_js(self, request: web.Request) -> web.StreamResponse:
        if self.ethers is None:
            raise web.HTTPNotFound(
                reason="the signing library is not installed: run `npm ci` (or `make setup`)"
            )
        return WholeFile(self.ethers, headers=self._headers("text/javascript; charset=utf-8"))

    async def status(self, request: web.Request) -> web.Response:
        node = self.node
        now = time.monotonic()
        if now - self._head_at > HEAD_CACHE_SECONDS and node.watcher.status == "ok":
            self._head_at = now  # (a chain not ok: the last head seen, not a read that hangs)
            try:
                block = await node.rpc.call(
                    "eth_getBlockByNumber", "latest", False, timeout=HEAD_READ
                )
                self._head, self._head_hash = head_of(block)
            except (ChainError, ValueError, TypeError, OSError, aiohttp.ClientError) as e:
                log.info("chain head unknown: %s", e)  # the page shows the last head seen
        checkpoint = node.watcher.block
        pending = await node.store.pending_settlements_committed()  # (never blocks the loop)
        return web.json_response(
            {
                "head": self._head,
                "headHash": self._head_hash,
                "checkpoint": checkpoint,
                "lag": max(0, self._head - checkpoint),
                "inFlight": [
                    {
                        "txHash": s.tx_hash,
                        "nonce": s.nonce,
                        "matches": [
                            {"restingOrderHash": a, "incomingOrderHash": b} for a, b in s.pairs
                        ],
                    }
                    for s in pending
                ],
            }
        )

    async def orders(self, request: web.Request) -> web.Response:
        """``{hash: record or null}`` for up to ``MAX_LOOKUP`` ``hash`` parameters: the
        orders of fills with their status (a fill may name an order this node never held;
        the answer says null instead of a 404 the browser would log as an error). Orders
        held in memory are read there; evicted ones (closed) are read from the store in a
        worker thread (``StoreReads.order_rows_of``), their records made from their rows
        as a listing's are (``sdex.node.pages.order_text``). leftovers17: each was read and
        parsed on the event loop (``Node.record_json``): while lookups of 50 ran, another
        client's p50 was 65 ms, 5.4 ms now (bench/web_orders_hold.py)."""
        hashes = request.query.getall("hash", [])
        if not 0 < len(hashes) <= MAX_LOOKUP:
            raise web.HTTPBadRequest(reason=f"give 1 to {MAX_LOOKUP} hash parameters")
        if not all(_HASH_RE.match(raw) for raw in hashes):
            raise web.HTTPBadRequest(reason="a hash is 0x and 64 hex digits")
        wanted = dict.fromkeys(raw.lower() for raw in hashes)  # each read once
        # (the node-wide total too, not only the client's budget: review19, 40 lookups of
        # 50 from one more address all served while the node refused every /v1/depth)
        request.app[LANE_KEY].spend_or_busy(len(wanted))
        registry = self.node.registry
        texts: dict[str, str | None] = {}
        stored: list[str] = []
        for h in wanted:
            key = bytes.fromhex(h[2:])
            rec = registry.records.get(key)
            if rec is not None:
                texts[h] = registry.record_text(rec)
            elif registry.evicted.count and key in registry.evicted:
                stored.append(h)  # (the filter says "maybe": the store says)
            else:
                texts[h] = None
        if stored:
            registry.lookups += len(stored)
            rows = {str(r[0]): r for r in await self.node.store.order_rows_of(stored)}
            text = order_text(self.node)  # (read back into memory meanwhile: that record)
            for h in stored:
                row = rows.get(h)
                texts[h] = text(row) if row is not None else None
        listed(request, len(wanted))
        body = ", ".join(f'"{h}": {texts[h] or "null"}' for h in wanted)
        return json_answer("{" + body + "}")

    async def dev_wallets(self, request: web.Request) -> web.Response:
        """``{"enabled": false, "reason"}`` unless served (a 200 either way: the page asks on
        every load, and a node without dev wallets is normal, not an error)."""
        accounts = self.node.config.dev_accounts
        if not accounts:
            body: dict[str, object] = {
                "enabled": False,
                "reason": "this node was not started with --dev-wallets",
            }
        elif not is_loopback(request.remote):
            body = {"enabled": False, "reason": "dev wallets are served to loopback clients only"}
        else:
            body = {
                "enabled": True,
                "rpc": self.node.config.rpc,
                "accounts": [
                    {"address": a.address, "key": a.key, "index": i}
                    for i, a in traded_accounts(accounts, self.node.config.operator)
                ],
            }
        return web.json_response(body, headers={"Cache-Control": "no-store"})


def traded_accounts(accounts: Sequence[DevAccount], operator: str) -> list[tuple[int, DevAccount]]:
    """The dev accounts the page offers, each with its index in the deployment file: all but
    the last ``OPERATOR_ACCOUNTS`` (the operator keys of ``sdex demo``'s nodes and of the
    README's nodes) and this node's own operator (wallet74: the page offered them, and an
    order traded from a node's operator account shares its nonces with that node's
    settlements, the mix-up ``sdex node`` warns of, ux49)."""
    kept = accounts[:-OPERATOR_ACCOUNTS] if len(accounts) > OPERATOR_ACCOUNTS else accounts
    return [(i, a) for i, a in enumerate(kept) if a.address.lower() != operator.lower()]


def _hashes_asked(request: web.Request) -> int:
    """What ``/web/orders`` may return: a record per ``hash`` parameter (charged to the
    client's listing budget like any listing; 1 for a request it refuses)."""
    return min(MAX_LOOKUP, len(request.query.getall("hash", []))) or 1


def add_web_routes(app: web.Application, node: Node) -> None:
    """Serve the page at ``/`` and its assets and helper routes under ``/static`` and ``/web``."""
    ethers = find_ethers()
    if ethers is None:
        log.warning("ethers not found (%s): the page can show the network but not sign", ETHERS_REL)
    page = WebPage(node, ethers)
    app.router.add_get("/", page.index)
    app.router.add_get("/static/vendor/ethers.js", page.ethers_js)
    app.router.add_get("/static/{name}", page.static)
    app.router.add_get("/web/status", page.status)
    app.router.add_get("/web/orders", listing(page.orders, _hashes_asked))
    app.router.add_get("/web/dev-wallets", page.dev_wallets)
