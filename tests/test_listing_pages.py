"""Listing pages built in slices (``sdex.node.pages``) in one lane (``sdex.node.listings``):
the same answers as before, consistent while orders change between slices; the budget
shared by every listing route; the lane's turns, bounds and total rate; the options.

Before, a page of 1,000 records was built and encoded in one go: 45-100 ms of the event
loop at once, so other clients waited that long (bench/listing_budget.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sdex.book import RemovalReason, Side
from sdex.httpkit import ApiError, RateLimit, client_group
from sdex.node import pages
from sdex.node.api import NODE_KEY
from sdex.node.cliconfig import listing_bounds
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.node.listings import LANE_PER_CLIENT, ListingLane
from sdex.order import ZERO_ADDRESS, Order, SignedOrder, address_of, sign_order
from sdex.orderparse import to_checksum
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_book import DOMAIN
from tests.test_listing_budget import book_query, get, session_from
from tests.test_mirror import synced

E6, E15 = 10**6, 10**15


async def _post_asks(c: Chain, api: Api, n: int, base_price: int = 3_000_000) -> list[SignedOrder]:
    """``n`` asks of 0.001 WETH at rising prices from four makers, posted 40 at once once the
    node's mirror follows the chain (``Node.mirror_ready``): only then does a first-seen
    maker cost one chain read shared by its orders. While the start's replay runs every
    order costs the wallet a read of its budget (100 at once, 10 a second), and on a long
    chain under load (CI's) 240 asks met 429s (fix78c: the mirror was never ready by the
    first post; a node's budget working as documented, not what these tests are about)."""
    assert api.app is not None
    node = api.app[NODE_KEY]
    await wait_for(node.mirror_ready, timeout=180)
    signed = [c.sign(c.order(1 + i % 4, c.weth, E15, c.usdc, base_price + i)) for i in range(n)]
    for i in range(0, n, 40):
        codes = await asyncio.gather(*(api.post_order(s) for s in signed[i : i + 40]))
        assert {code for code, _ in codes} == {201}, codes
    return signed


def _offered(node: Node, c: Chain) -> list[str]:
    """The asks the book offers now, in price-time order (0x-hex hashes)."""
    pair = node.book.pair(c.weth.address, c.usdc.address)
    return [
        "0x" + st.hash.hex()
        for st in pair.orders(Side.ASK)
        if st.fillable > 0 and st.closed is None
    ]


async def test_pages_are_the_records_the_node_gave_before(chain: Chain, tmp_path: Path) -> None:
    """Differential: each page, joined from record texts, parses to what the dict-built page
    was (``Node.orderbook``, ``Store.query_orders`` + ``Node.stored_json``, the fills'
    ``to_json``), byte for byte as ``json.dumps`` wrote it: open orders, a partly filled
    one, and closed ones evicted from memory (made from their stored rows)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", closed_grace=0.1)
    async with running_node(cfg) as (node, api):
        signed = await _post_asks(c, api, 30)
        hashes = [s.hash_hex for s in signed]
        for s, amount in ((signed[0], 3_000_000), (signed[1], 3_000_001), (signed[2], 1_000_000)):
            c.exchange.fill_order(c.sender(5), s, amount)  # two filled, one partly
        await synced(node, c)
        closed = [s.hash for s in signed[:2]]
        await wait_for(lambda: all(h not in node.records for h in closed), timeout=60)
        for path, expected in [
            (book_query(c, 1000), node.orderbook(c.weth.address, c.usdc.address, 1, 1000)),
            (book_query(c, 7) + "&page=2", node.orderbook(c.weth.address, c.usdc.address, 2, 7)),
        ]:
            async with api.session.get(api.base + path) as r:
                assert r.status == 200 and r.content_type == "application/json"
                assert await r.read() == json.dumps(expected).encode()
        for query, filters in [
            ("perPage=1000", {}),
            ("perPage=5&page=2", {}),
            ("status=filled", {"status": "filled"}),
            (f"maker={c.address(1)}", {"maker": c.address(1)}),
        ]:
            page, per_page = (2, 5) if "page=2" in query else (1, 1000 if "1000" in query else 100)
            total, rows = await node.store.query_orders(filters, page, per_page)
            records = [node.stored_json(s) for s in rows]
            expected = {"total": total, "page": page, "perPage": per_page, "records": records}
            expected["next"] = (await node.store.order_rows(filters, page, per_page)).next
            async with api.session.get(api.base + "/v1/orders?" + query) as r:
                assert r.status == 200
                assert await r.read() == json.dumps(expected).encode(), query
        _, body = await api.get("/v1/orders", status="filled")
        assert {r["metaData"]["orderHash"] for r in body["records"]} >= set(hashes[:2])
        total, fills = await node.store.fills_page(1, 100)
        expected = {
            "total": total,
            "page": 1,
            "perPage": 100,
            "records": [f.to_json() for f in fills],
            "next": None,
        }
        async with api.session.get(api.base + "/v1/fills") as r:
            assert await r.read() == json.dumps(expected).encode()
        assert total == 3
        node.registry.remove(signed[5].hash, RemovalReason.CANCELLED, "test")  # closed, held
        for rec in node.records.values():  # open, partly filled, closed in memory
            assert node.registry.record_text(rec) == json.dumps(node.registry.record_json(rec))


@pytest.mark.parametrize("route", ["orderbook", "orders"])
async def test_a_page_built_across_changes_lists_each_order_once(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """A page of 240 asks built 10 records a turn, while at every other turn of the event
    loop the book's worst ask is cancelled and, meanwhile, better asks arrive: the page lists
    each order once, every order that was offered before the request and still after it,
    and ``total`` records (page 1 holds them all). The build let the loop run between its
    slices (orders cancelled after the page's instant are on it, as cancelled: before, a
    page was built in one go, and no record on it could have changed). The store's view
    (``orders``) is the committed one, so its page may also hold orders cancelled before."""
    c = chain
    monkeypatch.setattr(pages, "SLICE", 10)
    monkeypatch.setattr(pages, "CHECK_EVERY", 10)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await _post_asks(c, api, 240)
        better = [c.sign(c.order(6, c.weth, E15, c.usdc, 2_000_000 + i)) for i in range(20)]
        before = set(_offered(node, c))
        running = True

        async def cancel_worst() -> int:
            n = 0
            while running and n < 120:
                await asyncio.sleep(0)
                worst = _offered(node, c)[-1]
                node.registry.remove(bytes.fromhex(worst[2:]), RemovalReason.CANCELLED, "test")
                n += 1
            return n

        async def arrive() -> None:
            for s in better:
                await node.submit(s.to_json(), source="api")

        cancels = asyncio.create_task(cancel_worst())
        arrivals = asyncio.create_task(arrive())
        path = book_query(c, 1000) if route == "orderbook" else "/v1/orders?perPage=1000"
        status, body = await api.get(path)
        running = False
        assert await cancels > 0
        await arrivals
        after = set(_offered(node, c))
        assert status == 200
        side = body["asks"] if route == "orderbook" else body
        listed = [r["metaData"]["orderHash"] for r in side["records"]]
        assert len(listed) == len(set(listed)) == side["total"]
        assert before & after <= set(listed)
        better_hashes = {s.hash_hex for s in better}
        assert set(listed) <= before | better_hashes
        statuses = {r["metaData"]["status"] for r in side["records"]}
        if route == "orderbook":
            assert "cancelled" in statuses  # cancelled between the page's instant and its slice


NAMED = "0x" + "7a" * 20
_KEY = bytes.fromhex("11" * 32)
_SIGNED = sign_order(
    Order(address_of(_KEY), NAMED, "0x" + "01" * 20, "0x" + "02" * 20, 1000, 3000,
          ZERO_ADDRESS, 0, 2**40, 5),
    DOMAIN, _KEY,
)  # fmt: skip
GOOD_ORDER = json.dumps({**_SIGNED.to_json(), "taker": to_checksum(NAMED)})
"""A real order's text, its taker as a wallet may send it (checksummed: the row's is lower)."""
OTHER_ORDER = json.dumps(
    sign_order(replace(_SIGNED.order, salt=6), DOMAIN, _KEY).to_json()
)  # (the same order but its salt: another hash, the same taker)
ROW = (_SIGNED.hash_hex, 7, GOOD_ORDER, "filled", "400", "chain", "api", 1.5, "gtc", "", NAMED)


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        (2, "{not json"),  # the order's text is not JSON
        (2, "[1, 2]"),  # not an object
        (2, json.dumps({"maker": "0x"})),  # no makerAmount
        (2, json.dumps({"makerAmount": "1e3"})),  # not a decimal
        (2, json.dumps({"makerAmount": None})),
        (3, "lost"),  # not a status
        (4, "many"),  # filled not an integer
        (7, "yesterday"),  # createdAt not a number
        (7, "inf"),  # nor a time (JSON has no Infinity)
        (10, "0x" + "7b" * 20),  # store37: the row's taker (?takerAddress=) is not its order's
        (10, None),
        (2, json.dumps({"maker": "0x" + "11" * 20, "makerAmount": "1000"})),  # no taker
        (2, json.dumps({"taker": 7, "makerAmount": "1000"})),
        (2, OTHER_ORDER),  # leftovers38: another order's (its hash not the row's)
        (0, "0x" + "ab" * 32),  # the row's hash not its order's
        (0, _SIGNED.hash_hex.upper()),
        (0, None),
    ],
)
def test_a_stored_row_that_is_not_an_order_is_left_off_a_page(column: int, bad: object) -> None:
    """An evicted order's record is made from its row: a row whose order text is not an
    order object with a decimal ``makerAmount``, or whose status, filled amount or time
    cannot be read, is left off the page (logged once), never copied into the answer (the
    page would not be JSON). A good row gives the record its dict would encode to."""
    good = pages.stored_text(ROW, DOMAIN)
    assert good is not None
    assert json.loads(good) == {
        "order": json.loads(GOOD_ORDER),
        "metaData": {
            "orderHash": ROW[0], "status": "filled", "filledMakerAmount": "400",
            "pendingMakerAmount": "0", "remainingFillableMakerAmount": "0",
            "remainingMakerAmount": "600", "createdAt": 1.5, "source": "api", "reason": "chain",
        },
    }  # fmt: skip
    row = list(ROW)
    row[column] = bad
    assert pages.stored_text(tuple(row), DOMAIN) is None


async def test_every_listing_route_draws_on_one_budget(chain: Chain, tmp_path: Path) -> None:
    """``/web/orders`` is charged a record per hash, from the bucket the ``/v1/`` listings
    draw on (before: not charged at all, so a client could read 50 records a request past
    its budget): a bucket of 100, 50 hashes asked, leaves 50; a page of 60 is then refused,
    one of 50 passes, and 50 hashes again are refused; another client is not affected."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", listing_rate_limit=RateLimit(rate=0.01, burst=100))
    async with (
        running_node(cfg) as (_, api),
        session_from("127.0.0.2") as greedy,
        session_from("127.0.0.3") as other,
    ):
        hashes = [s.hash_hex for s in await _post_asks(c, api, 50)]
        web = api.base + "/web/orders?" + "&".join(f"hash={h}" for h in hashes)
        status, body, headers = await get(greedy, web)
        assert status == 200 and len(body) == 50 and headers["X-RateLimit-Remaining"] == "50"
        assert (await get(greedy, api.base + "/v1/orders?perPage=60"))[0] == 429
        status, body, _ = await get(greedy, api.base + "/v1/orders?perPage=50")
        assert status == 200 and len(body["records"]) == 50
        status, body, headers = await get(greedy, web)
        assert status == 429 and body["code"] == 103 and "Retry-After" in headers
        assert (await get(other, web))[0] == 200


async def _holder(lane: ListingLane, client: str, order: list[str], gate: asyncio.Event) -> None:
    async with lane.turn(client):
        order.append(client)
        await gate.wait()


async def _turns(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_the_lane_serves_waiting_clients_in_turn() -> None:
    """One page at a time; while one is built, a greedy client's five pages and a light
    client's one wait, and the light one goes second (round robin by address, not first
    come): each address gets its share however many pages another queues."""
    lane = ListingLane(RateLimit(rate=1e9, burst=10**9))
    order: list[str] = []
    gates = [asyncio.Event() for _ in range(7)]
    tasks = [asyncio.create_task(_holder(lane, "first", order, gates[0]))]
    await _turns()
    tasks += [asyncio.create_task(_holder(lane, "greedy", order, g)) for g in gates[1:6]]
    await _turns()
    tasks.append(asyncio.create_task(_holder(lane, "light", order, gates[6])))
    await _turns()
    assert order == ["first"] and lane.waiting == 6
    for gate in gates:
        gate.set()
        await _turns()
    await asyncio.gather(*tasks)
    assert order == ["first", "greedy", "light", "greedy", "greedy", "greedy", "greedy"]
    assert lane.waiting == 0


async def test_the_lane_bounds_waiting_pages_and_passes_on_a_cancelled_turn() -> None:
    """Past ``per_client`` pages waiting for one address: 429; past ``waiting`` in all: 503
    (both code 103, nothing held). A waiter cancelled before or after its turn came leaves
    the lane to the next one."""
    lane = ListingLane(RateLimit(rate=1e9, burst=10**9), per_client=2, waiting=3)
    order: list[str] = []
    hold = asyncio.Event()
    first = asyncio.create_task(_holder(lane, "a", order, hold))
    await _turns()
    go = asyncio.Event()
    go.set()
    waiting = [asyncio.create_task(_holder(lane, "b", order, go)) for _ in range(2)]
    await _turns()
    with pytest.raises(ApiError) as e:
        await _holder(lane, "b", order, go)
    assert (e.value.status, e.value.body["code"]) == (429, 103)
    waiting.append(asyncio.create_task(_holder(lane, "c", order, go)))
    await _turns()
    with pytest.raises(ApiError) as e:
        await _holder(lane, "d", order, go)
    assert (e.value.status, e.value.body["code"]) == (503, 103)
    waiting[0].cancel()  # before its turn
    hold.set()
    await asyncio.gather(first, *waiting[1:])
    assert order == ["a", "c", "b"] and lane.waiting == 0
    # given its turn, then cancelled before it ran: the lane passes on
    hold2 = asyncio.Event()
    first = asyncio.create_task(_holder(lane, "a", order, hold2))
    await _turns()
    doomed = asyncio.create_task(_holder(lane, "b", order, go))
    after = asyncio.create_task(_holder(lane, "c", order, go))
    await _turns()
    hold2.set()
    await asyncio.sleep(0)
    doomed.cancel()
    await asyncio.gather(first, after, doomed, return_exceptions=True)
    assert order[-1] == "c" and lane.waiting == 0


async def test_the_lane_waits_for_its_total_rate() -> None:
    """Many addresses cannot add up past the total: pages that spent more than the bucket
    holds put it in debt, and the next turn waits until it refilled (2,000 records over at
    10,000 a second: ~0.2 s, not the next turns of the loop), then comes."""
    lane = ListingLane(RateLimit(rate=10_000, burst=1_000))
    async with lane.turn("a"):
        lane.spend(3_000)
    order: list[str] = []
    go = asyncio.Event()
    go.set()
    waiter = asyncio.create_task(_holder(lane, "b", order, go))
    await _turns(50)
    assert order == [] and lane.waiting == 1
    await asyncio.wait_for(waiter, timeout=30)
    assert order == ["b"]


def test_the_listing_budgets_are_options(tmp_path: Path) -> None:
    """``--listing-rate-limit`` and ``--listing-rate-total`` (``listing_bounds``): a rate in
    records a second, bursts of 5 s and 1 s of it, never under a full book page (2,000);
    unset, the defaults; not a rate above 0, a ``ValueError`` naming the option."""
    cfg = NodeConfig("http://x", 31337, "0x" + "11" * 20, 0, {}, bytes(32), tmp_path / "n.db")
    assert listing_bounds(cfg) == cfg
    assert (cfg.listing_rate_limit, cfg.listing_total_rate) == (
        RateLimit(rate=2_000, burst=10_000),
        RateLimit(rate=20_000, burst=20_000),
    )
    out = listing_bounds(cfg, 500, 50_000)
    assert out.listing_rate_limit == RateLimit(rate=500, burst=2_500)
    assert out.listing_total_rate == RateLimit(rate=50_000, burst=50_000)
    assert listing_bounds(cfg, 10).listing_rate_limit == RateLimit(rate=10, burst=2_000)
    for per_client, total in [(0, None), (-1, None), (float("nan"), None), (None, 0), (None, 1e12)]:
        with pytest.raises(ValueError, match="--listing-rate"):
            listing_bounds(cfg, per_client, total)


async def test_a_page_the_lane_refuses_reads_nothing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review15: a client with ``LANE_PER_CLIENT`` pages waiting had its next pages refused
    (429) only at the lane, after each had read the store (or walked the book) and then been
    charged 1 record: a page of 1,000 rows read for 1 record of its budget, as often as its
    request budget let it. Now it is refused before it reads."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", listing_total_rate=RateLimit(rate=1, burst=1))
    async with running_node(cfg) as (node, api), session_from("127.0.0.2") as greedy:
        await _post_asks(c, api, 30)
        status, _, _ = await get(greedy, api.base + "/v1/orders?perPage=30")
        assert status == 200  # (the lane's total in debt now: the next pages wait ~29 s)
        waiting = [
            asyncio.create_task(get(greedy, api.base + book_query(c, 1)))
            for _ in range(LANE_PER_CLIENT)
        ]
        reads = 0
        order_rows = node.store.order_rows

        async def counted(*args: Any) -> Any:
            nonlocal reads
            reads += 1
            return await order_rows(*args)

        monkeypatch.setattr(node.store, "order_rows", counted)

        async def full() -> bool:  # (a page that is not refused waits: given up after 1 s)
            try:
                async with greedy.get(api.base + book_query(c, 1), timeout=short) as r:
                    return r.status == 429
            except TimeoutError:
                return False

        short = aiohttp.ClientTimeout(total=1)
        await wait_for(full, timeout=30)
        for _ in range(10):
            status, body, _ = await get(greedy, api.base + "/v1/orders?perPage=1000")
            assert (status, body["code"]) == (429, 103), body
        assert reads == 0, f"{reads} pages read the store, then were refused"
        for t in waiting:
            t.cancel()


def test_a_charge_never_forgives_the_debt_of_a_page_spent_in_the_lane() -> None:
    """review18: ``charge`` floored the node's bucket at ``-burst`` even when a page's
    records spent in the lane had taken it lower: a page of 30 records (rate 1, burst 1:
    a debt of 29 s) followed by a walk's charge of 0.5 left a debt of 1 s."""
    lane = ListingLane(RateLimit(rate=1e-6, burst=1))
    lane.spend(30)
    lane.charge(0.5)
    assert lane._tokens <= -28.99, lane._tokens  # (stays in its debt)
    lane.charge(100)  # (a walk dearer than the burst: down to -burst at most, as before)
    assert lane._tokens <= -28.99, lane._tokens  # (stays in its debt)
    fresh = ListingLane(RateLimit(rate=1e-6, burst=10))
    fresh.charge(100)
    assert -10.01 <= fresh._tokens <= -9.99, fresh._tokens


def test_one_ipv6_network_holds_at_most_its_share_of_the_lane() -> None:
    """The lane's places (``waiting`` in all) were held per /64 only: 32 /64s of one /48,
    8 listings each, held all 256, and every other client's listing got 503. Now a /48
    holds at most 1/8 of them and a /56 1/16 (as connections and websockets,
    ``sdex.httpkit.client_path``): the /48's 33rd listing is refused with 429, and clients
    of other networks (IPv4, another /48) are still admitted; once the /48's listings end,
    its places are free again."""
    lane = ListingLane(RateLimit(rate=1e9, burst=10**9), per_client=8, waiting=256)
    held = contextlib.ExitStack()
    with held:
        subnets = [f"2001:db8:0:{i:x}00::/64" for i in range(16)]  # (16 /56s of one /48)
        for n in range(32):
            held.enter_context(lane.admitted(client_group(subnets[n // 2].split("/")[0])))
        with pytest.raises(ApiError) as refused:
            held.enter_context(lane.admitted(client_group("2001:db8:0:f00::1")))
        assert refused.value.status == 429 and "2001:db8::/48" in refused.value.body["reason"]
        # a /56 at its 16 (8 /64s of one /56, 2 each) is refused though its /48 has room
        other = ListingLane(RateLimit(rate=1e9, burst=10**9), per_client=8, waiting=256)
        with contextlib.ExitStack() as more:
            for n in range(16):
                more.enter_context(other.admitted(client_group(f"2001:db8:1:{n // 2}::1")))
            with pytest.raises(ApiError) as refused56:
                more.enter_context(other.admitted(client_group("2001:db8:1:9::1")))
            assert refused56.value.status == 429 and "/56" in refused56.value.body["reason"]
        for outsider in ("192.0.2.7", "2001:db8:1::1"):
            with lane.admitted(client_group(outsider)):
                pass
    with lane.admitted(client_group("2001:db8:0:f00::1")):  # (the /48's places freed)
        pass
