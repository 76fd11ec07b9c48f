"""attack30 "Fake top of book": an order restricted to one ``taker`` is no offer to the
market, so the public book (``GET /v1/orderbook``, ``GET /v1/depth`` and the websocket's
book events, which the page's book and ``sdex book`` read) leaves it out. It stays accepted,
listed by ``GET /v1/orders``, and trades with its taker's order; ``/v1/orderbook`` shows it to
that taker when the query names it (``takerAddress``, as in SRA v3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_book_events import BookClient, connect, orderbook_depth, rest_depth

E18 = 10**18
E6 = 10**6
ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4
DEAD = "0x000000000000000000000000000000000000dead"


def _ask(c: Chain, maker: int, usdc: int, **kw: Any) -> SignedOrder:
    return c.sign(c.order(maker, c.weth, E18, c.usdc, usdc * E6, **kw))


def _bid(c: Chain, maker: int, usdc: int, **kw: Any) -> SignedOrder:
    return c.sign(c.order(maker, c.usdc, usdc * E6, c.weth, E18, **kw))


async def _book(api: Api, c: Chain, **kw: Any) -> dict[str, list[str]]:
    body = await api.listing(
        "/v1/orderbook", baseToken=c.weth.address, quoteToken=c.usdc.address, **kw
    )
    out = {s: [r["metaData"]["orderHash"] for r in body[s]["records"]] for s in ("bids", "asks")}
    if "perPage" not in kw:  # (else a page: the totals are checked by the caller)
        totals = [body["bids"]["total"], body["asks"]["total"]]
        assert totals == [len(out["bids"]), len(out["asks"])], body
    return out


async def _depth(api: Api, c: Chain) -> dict[str, list[list[str]]]:
    code, body = await api.get("/v1/depth", baseToken=c.weth.address, quoteToken=c.usdc.address)
    assert code == 200, body
    return {"bids": body["bids"], "asks": body["asks"]}


async def test_a_restricted_ask_below_the_best_is_not_the_public_top_of_book(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        public = _ask(c, ALICE, 3100)
        fake = _ask(c, CAROL, 2400, taker=DEAD)  # (never trades: the attack)
        for_bob = _ask(c, DAVE, 2500, taker=c.address(BOB).lower())
        bid = _bid(c, ALICE, 2450)  # crosses both restricted asks' prices: rests
        for o in (public, fake, for_bob, bid):
            code, answer = await api.post_taken(o)
            assert code == 201 and answer["status"] == "open" and not answer["matches"], answer

        assert len(node.book) == 4  # (all rest: the book package is unchanged)
        assert await _book(api, c) == {"bids": [bid.hash_hex], "asks": [public.hash_hex]}
        depth = await _depth(api, c)
        assert depth["asks"] == [["31/10000000000", str(E18)]] and len(depth["bids"]) == 1, depth
        # Bob, naming himself, sees the ask made for him too (and not 0x...dead's)
        mine = await _book(api, c, takerAddress=c.address(BOB))
        assert mine == {"bids": [bid.hash_hex], "asks": [for_bob.hash_hex, public.hash_hex]}
        # pages over the public orders only
        for page, want in ((1, [public.hash_hex]), (2, [])):
            got = await _book(api, c, perPage=1, page=page)
            assert got["asks"] == want
        # still accepted and listed
        listed = await api.listing("/v1/orders", maker=c.address(DAVE))
        assert [r["metaData"]["orderHash"] for r in listed["records"]] == [for_bob.hash_hex]
        assert await api.status(fake) == "open"

        # and still matchable with its taker's order
        code, answer = await api.post_taken(_bid(c, BOB, 2500))
        assert code == 201 and len(answer["matches"]) == 1, answer
        assert answer["matches"][0]["restingOrderHash"] == for_bob.hash_hex

        async def filled() -> bool:
            return await api.status(for_bob) == "filled"

        await wait_for(filled)


async def test_a_restricted_order_in_a_public_level_is_left_out_of_its_amount(
    chain: Chain, tmp_path: Path
) -> None:
    """Restricted and public orders at one price: the level's depth is the public orders'
    alone, and the pages count and slice the public ones."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_node, api):
        made = []
        for maker, taker in ((ALICE, DEAD), (CAROL, None), (DAVE, DEAD), (ALICE, None)):
            o = _ask(c, maker, 3000, **({"taker": taker} if taker else {}))
            code, answer = await api.post_taken(o)
            assert code == 201, answer
            made.append(o)
        public = [made[1].hash_hex, made[3].hash_hex]
        assert (await _book(api, c))["asks"] == public
        pages = [(await _book(api, c, perPage=1, page=p))["asks"] for p in (1, 2, 3)]
        assert pages == [[public[0]], [public[1]], []]
        assert (await _depth(api, c))["asks"] == [["3/1000000000", str(2 * E18)]]
        everyone = await _book(api, c, takerAddress=DEAD)
        assert everyone["asks"] == [o.hash_hex for o in made]


async def test_the_websockets_book_events_leave_them_out(chain: Chain, tmp_path: Path) -> None:
    """The page's book (snapshot, then deltas on ``/v1/ws``): a restricted ask alone at its
    price makes no level, one at a public level adds nothing to it, and its fill by its
    taker moves nothing."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        pair = node.book.pairs[0]
        base, quote = pair.base, pair.quote
        # one before the subscription (in the snapshot), the rest after (in deltas)
        assert (await api.post_taken(_ask(c, CAROL, 2400, taker=DEAD)))[0] == 201
        async with await connect(api) as ws:
            with BookClient(ws, base, quote) as client:
                await client.subscribe()
                await wait_for(lambda: client.seq is not None, timeout=10)
                assert client.depth == {"bids": {}, "asks": {}}
                for_bob = _ask(c, DAVE, 3050, taker=c.address(BOB).lower())
                dead = _ask(c, CAROL, 3100, taker=DEAD)  # (at the public level, after it)
                for o in (_ask(c, ALICE, 3100), for_bob, dead, _ask(c, CAROL, 2500, taker=DEAD)):
                    assert (await api.post_taken(o))[0] == 201
                want = {"bids": {}, "asks": {"31/10000000000": E18}}
                await wait_for(lambda: client.depth == want, timeout=10)
                assert await rest_depth(api, base, quote) == want
                assert await orderbook_depth(api, base, quote) == want
                seen = len(client.deltas)

                code, answer = await api.post_taken(_bid(c, BOB, 3050))
                assert code == 201 and len(answer["matches"]) == 1, answer

                async def filled() -> bool:
                    return await api.status(for_bob) == "filled"

                await wait_for(filled)
                assert await rest_depth(api, base, quote) == want  # (a tick has compared)
                assert client.depth == want
                assert all(not d["asks"] and not d["bids"] for d in client.deltas[seen:])


async def test_a_restarted_node_still_leaves_them_out(chain: Chain, tmp_path: Path) -> None:
    """The restricted orders read back from the store at a start are left out too."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    public, fake = _ask(c, ALICE, 3100), _ask(c, CAROL, 2400, taker=DEAD)
    async with running_node(cfg) as (_node, api):
        for o in (public, fake):
            assert (await api.post_taken(o))[0] == 201
    async with running_node(cfg) as (node, api):
        assert len(node.book) == 2
        assert (await _book(api, c))["asks"] == [public.hash_hex]
        assert (await _depth(api, c))["asks"] == [["31/10000000000", str(E18)]]
        assert (await _book(api, c, takerAddress=DEAD))["asks"] == [fake.hash_hex, public.hash_hex]
