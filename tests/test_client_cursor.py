"""The project's clients walk ``GET /v1/orders`` and ``/v1/fills`` by cursor (``next``):
``NodeClient.all_orders`` / ``all_fills`` (the wallet, the console, the demo) and the
settlement audit's reading of a node (``sdex.audit.collect.read_node``).

Before (cursor17), they walked by page number until the node's ``total``: an order that
closed between two pages of a ``status=open`` walk moved every later one a place back (one
skipped a page), and a fill that came in before the walk's place moved every later one a
place on (one listed twice). A node that answers without ``next``, or with a bad one, gets a
clear ``NodeProtocolError`` (the audit: a ``node_bad_answer``)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sdex.client import FillPage, NodeClient, NodeProtocolError, Page
from sdex.order import SignedOrder, sign_hash
from sdex.storepage import MAX_CURSOR_CHARS
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, serving
from tests.test_listing_cursor import _fill

collect = importlib.import_module("sdex.audit.collect")  # (sdex.audit.collect is a function)
E15 = 10**15
PER_PAGE = 3
FAR = 1_000_000_000
"""Made-up fills go at blocks no chain here reaches: a block the node's watcher applies is
checked against the chain's logs, and a stored fill the chain lacks there is deleted as
false (reorg19). At low numbers a poll that covered them deleted them (the fills walk
failed in about 1 run of 3, on 6280d12 too)."""

Action = Callable[[], Awaitable[None]]


@contextlib.asynccontextmanager
async def between_pages(base: str, action: Action) -> AsyncIterator[str]:
    """A loopback proxy to the node at ``base`` that runs ``action`` before it forwards each
    listing page after a walk's first (one asked by ``cursor``, or by a page number above 1):
    what comes or goes between two pages, at a known moment."""
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.Response:
            q = request.query
            if "cursor" in q or q.get("page", "1") != "1":
                await action()
            async with session.request(
                request.method,
                base + request.path_qs,
                data=await request.read(),
                headers={"Content-Type": "application/json"},
            ) as r:
                body = await r.read()
                return web.Response(body=body, status=r.status, content_type="application/json")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        async with serving(app) as url:
            yield url


def by_numbers(base: str, path: str, status: str | None = None) -> list[Any]:
    """Every record of a listing walked by page number until its ``total``: how the clients
    walked before (the reference the cursor walk is checked against)."""
    with NodeClient(base) as client:
        records: list[Any] = []
        for page in range(1, 100):
            got: Page | FillPage = (
                client.orders(page=page, per_page=PER_PAGE, status=status)
                if path == "/v1/orders"
                else client.fills(page=page, per_page=PER_PAGE)
            )
            records += got.records
            if not got.records or len(records) >= got.total:
                break
        return records


async def _cancel(c: Chain, api: Api, s: SignedOrder) -> None:
    sig = sign_hash(c.domain.cancel_digest(s.hash), c.keys[c.index_of(s.order.maker)])
    status, body = await api.post(
        f"/v1/orders/{s.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
    )
    assert status == 200, body


async def test_a_status_open_walk_lists_every_order_once_while_orders_close_and_arrive(
    chain: Chain, tmp_path: Path
) -> None:
    """``all_orders(status="open")`` while, between any two pages, the oldest open order (one
    already listed) is cancelled and a new one posted: every order is listed once, in arrival
    order, the new ones at the end. The same walk by page numbers skips one order a page."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_, api):
        signed = [c.sign(c.order(1 + i % 4, c.weth, E15, c.usdc, 3_000_000 + i)) for i in range(12)]
        for s in signed:
            assert (await api.post_order(s))[0] == 201
        open_now = list(signed)
        late = iter([c.sign(c.order(5, c.weth, E15, c.usdc, 4_000_000 + i)) for i in range(60)])
        posted: list[SignedOrder] = []

        async def close_one_and_post_one() -> None:
            await _cancel(c, api, open_now.pop(0))
            new = next(late)
            assert (await api.post_order(new))[0] == 201
            open_now.append(new)
            posted.append(new)

        async with between_pages(api.base, close_one_and_post_one) as proxy:

            def walk() -> list[str]:
                with NodeClient(proxy) as client:
                    got = client.all_orders(status="open", per_page=PER_PAGE)
                    return [r.order_hash for r in got]

            walked = await asyncio.to_thread(walk)
            assert posted, "the walk read more than one page"
            assert walked == [s.hash_hex for s in signed + posted]

            before = [s.hash_hex for s in open_now]
            posted.clear()
            numbered = await asyncio.to_thread(by_numbers, proxy, "/v1/orders", status="open")
            listed = [r.order_hash for r in numbered]
            expected = before + [s.hash_hex for s in posted]
            assert len(listed) == len(set(listed))
            missed = set(expected) - set(listed)
            assert len(missed) >= 2, (len(expected), len(listed))  # (one a page after the first)


async def test_a_walk_of_fills_lists_each_once_while_fills_come_in(
    chain: Chain, tmp_path: Path
) -> None:
    """``all_fills`` while, between any two pages, a fill comes in at a block before the
    walk's place (a replayed or reorged-in block) and one at a new block: each fill there
    from the start and each that came is listed once, in the order stored (the early one
    too: review18, in chain order it was never listed to that walk). Pages by number see
    them once too now (stored fills only come at the end)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        s = c.sign(c.order(1, c.weth, E15, c.usdc, 3_000_000))
        assert (await api.post_order(s))[0] == 201
        node.store.add_fills(
            [_fill(FAR + b, i, s.hash_hex) for b in (100, 200, 300) for i in range(3)]
        )
        arrived: list[tuple[int, int]] = []
        step = 0

        async def fills_come_in() -> None:
            nonlocal step
            step += 1
            early, new = _fill(FAR + step, 0, s.hash_hex), _fill(FAR + 1000 + step, 0, s.hash_hex)
            await node.store.add_fills_async([early, new])
            arrived.extend([(early.block_number, 0), (new.block_number, 0)])

        async with between_pages(api.base, fills_come_in) as proxy:

            def walk() -> list[tuple[int, int]]:
                with NodeClient(proxy) as client:
                    return [(f.block_number, f.log_index) for f in client.all_fills(PER_PAGE)]

            walked = await asyncio.to_thread(walk)
            there = [(FAR + b, i) for b in (100, 200, 300) for i in range(3)]
            assert walked == there + arrived and len(arrived) >= 6

            numbered = await asyncio.to_thread(by_numbers, proxy, "/v1/fills")
            keys = [(f.block_number, f.log_index) for f in numbered]
            assert len(keys) == len(set(keys)), keys


async def test_the_audit_reads_a_nodes_orders_and_fills_each_once_while_they_come_in(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``read_node`` (3 records a page here) while, between any two pages, an order is posted
    and fills come in before and after the walk's place: every order and every fill there
    from the start is collected once; no order or fill twice."""
    monkeypatch.setattr(collect, "PER_PAGE", PER_PAGE)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        signed = [c.sign(c.order(1 + i % 4, c.weth, E15, c.usdc, 3_000_000 + i)) for i in range(8)]
        for s in signed:
            assert (await api.post_order(s))[0] == 201
        node.store.add_fills(
            [_fill(FAR + b, i, signed[0].hash_hex) for b in (100, 200) for i in range(4)]
        )
        late = iter([c.sign(c.order(5, c.weth, E15, c.usdc, 4_000_000 + i)) for i in range(60)])
        step = 0

        async def records_come_in() -> None:
            nonlocal step
            step += 1
            assert (await api.post_order(next(late)))[0] == 201
            fills = [
                _fill(FAR + step, 0, signed[0].hash_hex),
                _fill(FAR + 1000 + step, 0, signed[0].hash_hex),
            ]
            await node.store.add_fills_async(fills)

        async with between_pages(api.base, records_come_in) as proxy:
            facts, copies = await asyncio.to_thread(collect.read_node, proxy, c.domain, 0, 5.0)
        assert facts.error is None, facts.error
        hashes = [copy.signed.hash_hex for copy in copies]
        assert len(hashes) == len(set(hashes)) and hashes[:8] == [s.hash_hex for s in signed]
        keys = [(f.block_number, f.log_index) for f in facts.fills]
        assert len(keys) == len(set(keys)) and keys == sorted(keys)
        assert set((FAR + b, i) for b in (100, 200) for i in range(4)) <= set(keys)
        assert step >= 4


# -- a hostile node's next ------------------------------------------------------------------

LONGEST = "7" * MAX_CURSOR_CHARS
ABSENT = object()


def _listing_app(next_of: Callable[[int], object]) -> web.Application:
    """``/v1/orders`` and ``/v1/fills`` pages without records, whose ``next`` is
    ``next_of(page)`` (page: 1, then the number the client's cursor names when it is one);
    ``/health`` an empty object."""

    async def listing(request: web.Request) -> web.Response:
        raw = request.query.get("cursor", request.query.get("page", "1"))
        page = int(raw) if raw.isdigit() and len(raw) < 9 else 2
        body: dict[str, object] = {"total": 0, "page": page, "perPage": 100, "records": []}
        value = next_of(page)
        if value is not ABSENT:
            body["next"] = value
        return web.json_response(body)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/v1/orders", listing)
    app.router.add_get("/v1/fills", listing)
    app.router.add_get("/health", health)
    return app


@pytest.mark.parametrize(
    ("next_value", "error"),
    [
        (ABSENT, "has no next .*upgrade the node"),
        (5, "next must be null or a cursor.*got int"),
        (True, "got bool"),
        (1.5, "got float"),
        ([], "got list"),
        ({"a": 1}, "got dict"),
        ("", "got ''"),
        (LONGEST + "7", "got '7777"),
        ("5 2", "got '5 2'"),
        ("5.2\n", "got '5.2\\\\n'"),
        ("5&page=1", "got '5&page=1'"),
        ("5%2e2", "got '5%2e2'"),
        ("٥.2", "got '٥.2'"),  # (an Arabic-Indic digit)
        ("../admin", "got '../admin'"),
    ],
)
async def test_a_bad_next_is_a_clear_error(next_value: object, error: str) -> None:
    """Each listing read (a page, a walk of orders, of fills) refuses the page: a typed
    error naming what is wrong, never a request built from it; the audit reports the node
    as answering off the API."""
    async with serving(_listing_app(lambda _: next_value)) as base:
        with NodeClient(base) as client:
            reads: list[Callable[[], object]] = [
                client.orders,
                client.fills,
                lambda: list(client.all_orders()),
                lambda: list(client.all_fills()),
            ]
            for read in reads:
                with pytest.raises(NodeProtocolError, match=error):
                    await asyncio.to_thread(read)
        facts, _ = await asyncio.to_thread(collect.read_node, base, _domain(), 0, 1.0)
        assert facts.error_kind == "node_bad_answer" and facts.error is not None
        assert "next" in facts.error


@pytest.mark.parametrize(
    ("next_of", "error"),
    [
        (lambda page: "2", "gave the cursor '2' twice"),
        (lambda page: str(page + 1), "still had a next page after 5 pages"),
        (lambda page: LONGEST if page == 1 else "2", "twice"),
    ],
)
async def test_a_walk_that_would_not_end_is_refused(
    next_of: Callable[[int], object], error: str
) -> None:
    """A node whose ``next`` goes round, or on past the client's bound of pages: an error,
    after at most ``max_pages`` requests."""
    async with serving(_listing_app(next_of)) as base:
        with NodeClient(base) as client:
            walks: list[Callable[[], object]] = [
                lambda: list(client.all_orders(max_pages=5)),
                lambda: list(client.all_fills(max_pages=5)),
            ]
            for walk in walks:
                with pytest.raises(NodeProtocolError, match=error):
                    await asyncio.to_thread(walk)


async def test_good_next_values_are_followed_as_given() -> None:
    """The longest cursor a node may give is sent back as it is; null ends the walk."""
    async with serving(_listing_app(lambda page: LONGEST if page == 1 else None)) as base:
        with NodeClient(base) as client:
            assert (await asyncio.to_thread(client.fills)).next == LONGEST
            assert (await asyncio.to_thread(client.orders)).next == LONGEST
            assert await asyncio.to_thread(lambda: list(client.all_fills())) == []
            pages = await asyncio.to_thread(lambda: client.fills(cursor=LONGEST))
            assert pages.next is None and pages.page == 2


def _domain() -> Any:
    from sdex.order import Domain

    return Domain(31337, "0x" + "55" * 20)
