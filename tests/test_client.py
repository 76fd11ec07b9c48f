"""The wallet commands (``sdex order``, ``book``, ``cancel``) through ``sdex.client`` against a
real aiohttp server on loopback that answers like a node (canned order_config, book and
answers), and ``cancel --onchain`` against the real Hardhat devnet too. The whole flow
against a real node is in the node tests."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from rich.console import Console

import sdex.node.main as node_main
from sdex.chain import OrderStatus
from sdex.client import MAX_ANSWER, NodeClient, NodeProtocolError, NodeUnreachableError
from sdex.order import ZERO_ADDRESS, Domain, SignedOrder, recover_signer, sign_order
from sdex.walletsettle import print_status_url
from tests.conftest import Chain
from tests.fakenode import (
    DOMAIN,
    E6,
    E18,
    FEE_TO,
    KEY,
    MAKER,
    USDC,
    WETH,
    Answer,
    FakeNode,
    closed_port,
    fake_node,
    meta,
    order_config,
    page,
    posted_order,
    run_cli,
    signed,
    wallet_args,
)
from tests.nodeutil import serving


@pytest.fixture
def fake() -> Iterator[FakeNode]:
    with fake_node() as node:
        yield node


# -- sdex order --------------------------------------------------------------------------------


def test_order_buy_signs_posts_and_shows_the_matches(fake: FakeNode) -> None:
    fake.config = order_config(DOMAIN, WETH, USDC, fee_bps=30)
    ask_a = signed(WETH, USDC, E18, 2000 * E6)
    ask_b = signed(WETH, USDC, E18 // 2, 1000_500_000)

    def filled(s: SignedOrder) -> Answer:
        m = meta(s, 0, "filled")
        matches = [
            {"restingOrderHash": ask_a.hash_hex, "incomingOrderHash": s.hash_hex,
             "restingMakerAmount": str(E18), "incomingMakerAmount": str(2000 * E6),
             "price": "2000000000/1000000000000000000"},
            {"restingOrderHash": ask_b.hash_hex, "incomingOrderHash": s.hash_hex,
             "restingMakerAmount": str(E18 // 2), "incomingMakerAmount": str(1000_500_000),
             "price": "2001000000/1000000000000000000"},
        ]  # fmt: skip
        return 201, {**m, "metaData": m, "outcome": "filled", "matches": matches}

    fake.on_post = filled
    before = int(time.time())
    r = run_cli("order", "buy", "2000.5", "1.5", *wallet_args(fake), "--tif", "ioc")
    assert r.exit_code == 0, r.output

    assert fake.posted[0]["timeInForce"] == "ioc"
    s = posted_order(fake)
    o = s.order
    assert recover_signer(s.hash, s.signature) == MAKER
    assert (o.maker, o.taker) == (MAKER, ZERO_ADDRESS)
    assert (o.maker_token, o.maker_amount) == (USDC, 3000_750_000)
    assert (o.taker_token, o.taker_amount) == (WETH, 15 * E18 // 10)
    assert (o.fee_recipient, o.fee_amount) == (FEE_TO, 15 * E18 // 10 * 30 // 10_000)
    assert before + 3600 <= o.expiry <= int(time.time()) + 3600

    out = r.output
    assert "BUY 1.5 WETH for at most 3000.75 USDC (limit 2000.5 USDC/WETH)" in out
    assert "fee 0.0045 WETH to " + FEE_TO + " (30 bps)" in out
    assert f"order {s.hash_hex}" in out
    assert "status filled, outcome filled" in out
    assert re.search(rf"{ask_a.hash_hex}\s*│\s*1\s*│\s*2000\s*│\s*2000\s", out), out
    assert re.search(rf"{ask_b.hash_hex}\s*│\s*0\.5\s*│\s*1000\.5\s*│\s*2001\s", out), out
    assert "bought 1.5 WETH for 3000.5 USDC once settled on chain" in out
    # (user38: that sentence with its GET path was ~150 columns piped: the URL has a line;
    # user62: a bare /v1/orders/0x... named no node: the node's URL is said with it;
    # users89: piped, the URL was split after the node's address: copied, it was the node's
    # address alone. It is one word, whole on its line, the one line past 80 columns)
    said = out.splitlines()[-3:]
    assert said == [
        "bought 1.5 WETH for 3000.5 USDC once settled on chain",
        "the order's status:",
        f"{fake.url}/v1/orders/{s.hash_hex}",
    ], out
    assert all(len(line) <= 80 for line in said[:2]), said


def test_at_a_terminal_the_orders_status_is_one_whole_url() -> None:
    """user62: at a terminal (no 80-column rule: the terminal wraps) the record's whole URL
    is on a line of its own, to open or curl as it is."""
    buf = io.StringIO()
    url = "http://127.0.0.1:8001"
    print_status_url(
        Console(file=buf, soft_wrap=True, width=80), url, "0x" + "ab" * 32, "its status:"
    )
    assert buf.getvalue().splitlines() == ["its status:", f"{url}/v1/orders/0x{'ab' * 32}"]


def test_order_sell_defaults_to_gtc_and_rests(fake: FakeNode) -> None:
    r = run_cli("order", "SELL", "2000", "0.25", *wallet_args(fake), "--pair", "weth/usdc")
    assert r.exit_code == 0, r.output
    assert fake.posted[0]["timeInForce"] == "gtc"
    o = posted_order(fake).order
    assert (o.maker_token, o.maker_amount, o.taker_token, o.taker_amount) == (
        WETH, E18 // 4, USDC, 500 * E6,
    )  # fmt: skip
    assert (o.fee_recipient, o.fee_amount) == (ZERO_ADDRESS, 0)
    assert "SELL 0.25 WETH for at least 500 USDC (limit 2000 USDC/WETH); no fee" in r.output
    assert "status open, outcome rested" in r.output and "no match yet" in r.output


def test_a_node_that_lists_fills_without_end_is_read_ten_pages(fake: FakeNode) -> None:
    """review19: ``sdex order --wait`` reads every page of a settled order's fills (not the
    first only), until they add up to its filled amount, and at most ten pages: a node whose
    fills of the order never add up (here: a fill of 0, 20,000 times) does not hold the wallet
    for a walk's 10,000 pages."""
    ask = signed(WETH, USDC, E18, 2000 * E6)

    def matched(s: SignedOrder) -> Answer:
        m = {**meta(s, s.order.maker_amount), "pendingMakerAmount": str(s.order.maker_amount)}
        fake.records[s.hash_hex] = {"order": s.to_json(), "metaData": meta(s, 0, "filled")}
        fake.fill_list = [_fill_record(s.hash_hex, i) for i in range(20_000)]
        match = {"restingOrderHash": ask.hash_hex, "incomingOrderHash": s.hash_hex,
                 "restingMakerAmount": str(E18), "incomingMakerAmount": str(2000 * E6),
                 "price": "2000000000/1000000000000000000"}  # fmt: skip
        return 201, {**m, "metaData": m, "outcome": "filled", "matches": [match]}

    fake.on_post = matched
    r = run_cli("order", "buy", "2000", "1", *wallet_args(fake), "--wait", "5")
    assert r.exit_code == 0, r.output
    said = "could not follow the settlement: GET /v1/fills still had a next page after 10 pages"
    assert said in " ".join(r.output.split()), r.output
    fills_asked = [q for q in fake.queries if "orderHash" in q]
    assert len(fills_asked) == 10, len(fills_asked)


async def test_a_page_with_more_records_than_asked_is_refused() -> None:
    """review19: a listing page was taken whatever it held (up to ``MAX_ANSWER``, 16 MB), so a
    node answering a walk with pages far past ``perPage`` had ``sdex audit`` keep 10,000 such
    pages in memory. A page with more records than asked is a ``NodeProtocolError``."""
    h = "0x" + "ab" * 32
    fills = [_fill_record(h, i) for i in range(3)]
    order = signed(WETH, USDC, E18, 2000 * E6)
    orders = [{"order": order.to_json(), "metaData": meta(order, E18)}] * 3

    def answer(records: list[dict[str, Any]]) -> Any:
        async def handle(_: web.Request) -> web.Response:
            body = {"total": 3, "page": 1, "perPage": 2, "records": records, "next": None}
            return web.json_response(body)

        return handle

    app = web.Application()
    app.router.add_get("/v1/fills", answer(fills))
    app.router.add_get("/v1/orders", answer(orders))
    async with serving(app) as base:
        with NodeClient(base) as client:
            asks: list[tuple[Any, str]] = [
                (
                    lambda: client.fills(per_page=2),
                    "GET /v1/fills answered 3 records for perPage 2",
                ),
                (lambda: list(client.all_fills(per_page=2)), "/v1/fills answered 3"),
                (lambda: client.orders(per_page=2), "GET /v1/orders answered 3 records"),
                (lambda: list(client.all_orders(per_page=2)), "/v1/orders answered 3"),
            ]
            for ask, error in asks:
                with pytest.raises(NodeProtocolError, match=error):
                    await asyncio.to_thread(ask)
            assert len((await asyncio.to_thread(client.fills, 1, 3)).records) == 3


def _fill_record(order_hash: str, i: int) -> dict[str, Any]:
    return {
        "transactionHash": "0x" + f"{i:064x}", "logIndex": 0, "blockNumber": i + 1,
        "orderHash": order_hash, "maker": MAKER, "taker": MAKER, "makerAmountFilled": "0",
        "takerAmountFilled": "0", "feeRecipient": ZERO_ADDRESS, "feePaid": "0",
        "settledByThisNode": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("expiry", "said"),
    [
        ("3600", "expires 20"),
        ("99999999999999", "expires after the year 9999 (unix "),  # (review19: a traceback)
        (str(2**64 - 1 - 2**40), "expires after the year 9999 (unix "),
    ],
)
def test_any_expiry_the_order_takes_is_shown(fake: FakeNode, expiry: str, said: str) -> None:
    r = run_cli("order", "sell", "2000", "0.25", *wallet_args(fake), "--expiry", expiry)
    assert r.exit_code == 0, r.output
    assert said in r.output and "Traceback" not in r.output, r.output
    assert posted_order(fake).order.expiry > int(expiry)


def test_a_node_slow_to_answer_does_not_stretch_the_wait(fake: FakeNode) -> None:
    """``--wait 1`` against a node that takes 3 s to answer a record read (the client's
    timeout is 10 s): the read is given what is left of the wait, and the wallet says the
    order is still settling without the record, instead of waiting for the slow answer (it
    printed the record's status 3 s later, and up to one client timeout past the wait)."""
    ask = signed(WETH, USDC, E18, 2000 * E6)

    def matched(s: SignedOrder) -> Answer:
        m = {**meta(s, s.order.maker_amount), "pendingMakerAmount": str(s.order.maker_amount)}
        fake.records[s.hash_hex] = {"order": s.to_json(), "metaData": m}
        match = {"restingOrderHash": ask.hash_hex, "incomingOrderHash": s.hash_hex,
                 "restingMakerAmount": str(E18), "incomingMakerAmount": str(2000 * E6),
                 "price": "2000000000/1000000000000000000"}  # fmt: skip
        return 201, {**m, "metaData": m, "outcome": "filled", "matches": [match]}

    fake.on_post = matched
    fake.order_delay = 3.0
    r = run_cli("order", "buy", "2000", "1", *wallet_args(fake), "--wait", "1")
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert (
        "still settling after 1 s (the node did not answer in time); its status: "
        f"{fake.url}/v1/orders/0x" in out
    ), out
    assert "status open" not in out.split("still settling", 1)[1], out


@pytest.mark.parametrize(
    ("status", "outcome", "pending", "matched", "said"),
    [
        ("partially_filled", "filled", E18 // 2, True,
         "matched in full, settlement pending on chain (status partially_filled until the "
         "settlement is mined, outcome filled)"),
        ("open", "filled", None, True,  # a node that does not send pendingMakerAmount
         "matched in full, settlement pending on chain (status open, outcome filled)"),
        ("removed", "dropped", E18 // 4, True,
         "partly matched; the unmatched rest was dropped (ioc); settlement pending on chain"),
        ("removed", "killed", 0, False, "killed (fok): it could not be matched in full now"),
        ("unfunded", "rested", 0, False, "rests in the book (unfunded), no match yet"),
        ("weird", "unheard-of", 0, False, "status weird, outcome unheard-of"),
    ],
)  # fmt: skip
def test_order_outcomes_in_words(
    fake: FakeNode, status: str, outcome: str, pending: int | None, matched: bool, said: str
) -> None:
    def answer(s: SignedOrder) -> Answer:
        m = meta(s, 0, status)
        if pending is not None:
            m["pendingMakerAmount"] = str(pending)
        matches = [
            {"restingOrderHash": "0x" + "ab" * 32, "incomingOrderHash": s.hash_hex,
             "restingMakerAmount": str(E18 // 4), "incomingMakerAmount": str(500 * E6),
             "price": "2000000000/1000000000000000000"},
        ] if matched else []  # fmt: skip
        return 201, {**m, "metaData": m, "outcome": outcome, "matches": matches}

    fake.on_post = answer
    r = run_cli("order", "sell", "2000", "1", *wallet_args(fake))
    assert r.exit_code == 0, r.output
    assert said in " ".join(r.output.split())
    assert "note:" not in r.output


def test_order_the_node_already_had(fake: FakeNode) -> None:
    # A known order is answered 200 with its record ({"order", "metaData"}) as the body.
    fake.on_post = lambda s: (200, {"order": s.to_json(), "metaData": meta(s, 0, "filled")})
    r = run_cli("order", "buy", "1", "0.0000015", *wallet_args(fake))
    assert r.exit_code == 0, r.output
    s = posted_order(fake)
    assert (s.order.maker_amount, s.order.taker_amount) == (1, 15 * 10**11)
    assert "note: whole USDC units move the signed limit from 1 to ~0.66666667" in r.output
    assert f"order {s.hash_hex}" in r.output
    assert "the node already had this order (status filled)" in r.output


def test_order_key_from_the_environment(fake: FakeNode) -> None:
    r = run_cli("order", "buy", "1", "1", "--node", fake.url, env={"SDEX_KEY": KEY.hex()})
    assert r.exit_code == 0, r.output
    assert posted_order(fake).order.maker == MAKER


def test_node_rejection_is_one_red_line(fake: FakeNode) -> None:
    fake.on_post = lambda s: (
        400,
        {
            "code": 100,
            "reason": "Validation Failed",
            "rejection": "ORDER_UNFUNDED",
            "validationErrors": [
                {"field": "makerAmount", "code": 1004, "reason": "maker balance too low"}
            ],
        },
    )
    r = run_cli("order", "buy", "2000", "1", *wallet_args(fake))
    assert r.exit_code == 1
    assert isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.output
    (line,) = [x for x in r.stderr.splitlines() if x.strip()]
    assert line.startswith("error: Validation Failed (HTTP 400, code 100, ORDER_UNFUNDED)")
    assert "makerAmount: maker balance too low" in line


def test_unreachable_node_is_one_red_line() -> None:
    port = closed_port()
    r = run_cli("order", "buy", "1", "1", "--node", f"127.0.0.1:{port}", "--key", KEY.hex())
    assert r.exit_code == 1
    (line,) = [x for x in r.stderr.splitlines() if x.strip()]
    assert line == f"error: cannot reach the node at http://127.0.0.1:{port}: " + (
        "[Errno 111] Connection refused; is `sdex node` running on that port?"
    )


def test_the_node_url_is_read_from_sdex_node() -> None:
    port = closed_port()
    r = run_cli("book", env={"SDEX_NODE": f"127.0.0.1:{port}"})
    assert r.exit_code == 1, r.output
    assert f"cannot reach the node at http://127.0.0.1:{port}" in r.stderr
    r = run_cli("book")
    assert r.exit_code == 2
    assert "Missing option '--node' (env var: 'SDEX_NODE')" in r.stderr


def test_a_config_with_another_domain_is_not_signed_for(fake: FakeNode) -> None:
    fake.config["domain"]["verifyingContract"] = "0x" + "66" * 20
    r = run_cli("order", "buy", "2000", "1", *wallet_args(fake))
    assert r.exit_code == 1
    assert "refusing to sign" in r.stderr
    assert fake.posted == []


def test_a_malformed_answer_is_one_red_line(fake: FakeNode) -> None:
    fake.on_post = lambda s: (201, {"status": "open"})
    r = run_cli("order", "buy", "2000", "1", *wallet_args(fake))
    assert r.exit_code == 1
    assert "POST /v1/orders answer lacks" in r.stderr


USAGE_ERRORS = [
    ("price-zero", ["buy", "0", "1"], "PRICE must be greater than zero"),
    ("price-exponent", ["buy", "2e3", "1"], "PRICE must be a plain positive decimal"),
    ("amount-negative", ["--", "sell", "2000", "-1"], "AMOUNT must be a plain positive decimal"),
    (
        "amount-option-like",
        ["sell", "2000", "-1"],
        "Error: Invalid value for 'AMOUNT': "
        "AMOUNT must be a plain positive decimal like 2000.5, got '-1'",
    ),
    ("side", ["short", "2000", "1"], "'short' is not one of"),
    ("pair-form", ["buy", "2000", "1", "--pair", "WETHUSDC"], "BASE/QUOTE"),
    ("pair-unlisted", ["buy", "2000", "1", "--pair", "WETH/DAI"], "does not list token DAI"),
    (
        "pair-inverted",
        ["buy", "10", "1", "--pair", "USDC/WETH"],
        "USDC/WETH is not a listed market; the node lists WETH/USDC: use --pair WETH/USDC",
    ),
    ("too-fine", ["sell", "1", "0.0000000000000000001"], "more decimal places than WETH's 18"),
    ("dust", ["buy", "0.5", "0.000001"], "less than one unit of USDC"),
    ("tif", ["buy", "1", "1", "--tif", "day"], "'day' is not one of"),
    ("expiry", ["buy", "1", "1", "--expiry", "0"], "--expiry"),
    ("wait-nan", ["buy", "1", "1", "--wait", "nan"], "--wait is seconds to wait"),  # (user29)
]


@pytest.mark.parametrize(
    ("args", "message"), [c[1:] for c in USAGE_ERRORS], ids=[c[0] for c in USAGE_ERRORS]
)
def test_bad_arguments_are_usage_errors(fake: FakeNode, args: list[str], message: str) -> None:
    r = run_cli("order", *wallet_args(fake), *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert fake.posted == []


@pytest.mark.parametrize("key", ["12345", "0x" + "00" * 32, "zz" * 32])
def test_bad_keys_are_usage_errors(fake: FakeNode, key: str) -> None:
    r = run_cli("order", "buy", "1", "1", "--node", fake.url, "--key", key)
    assert r.exit_code == 2 and "--key" in r.stderr
    assert fake.posted == []


# -- sdex book ---------------------------------------------------------------------------------


def test_one_pair_vocabulary_for_order_book_and_console(fake: FakeNode) -> None:
    """An inverted pair is refused alike by order, book and console, naming the listed one;
    nothing is posted or asked for."""
    said = "USDC/WETH is not a listed market; the node lists WETH/USDC: use --pair WETH/USDC"
    for args in (
        ["order", "buy", "10", "1", *wallet_args(fake)],
        ["book", "--node", fake.url],
        ["console", *wallet_args(fake)],
    ):
        r = run_cli(*args, "--pair", "usdc/weth", input="book\n")
        assert r.exit_code == 2, r.output
        assert said in " ".join(r.stderr.split()), r.stderr
    assert fake.posted == [] and fake.queries == []


def test_book_shows_human_prices_and_amounts_best_first(fake: FakeNode) -> None:
    asks = [
        (signed(WETH, USDC, 2 * E18, 4100 * E6), E18),  # 2050, 1 of 2 WETH left
        (signed(WETH, USDC, E18, 2010 * E6), E18),  # 2010
        (signed(WETH, USDC, 3 * E18, 6090 * E6), 3 * E18),  # 2030
    ]
    bids = [
        (signed(USDC, WETH, 1990 * E6, E18), 995 * E6),  # 1990, half left: 0.5 WETH
        (signed(USDC, WETH, 2000 * E6, E18), 2000 * E6),  # 2000
        (signed(USDC, WETH, 1000 * E6, 3 * E18), 1000 * E6),  # 333.33…
    ]
    fake.book = {
        side: page([{"order": s.to_json(), "metaData": meta(s, rem)} for s, rem in rows])
        for side, rows in (("asks", asks), ("bids", bids))
    }
    r = run_cli("book", "--node", fake.url, "--depth", "50")
    assert r.exit_code == 0, r.output
    assert fake.queries == [{"baseToken": WETH, "quoteToken": USDC, "page": "1", "perPage": "50"}]
    rows = [
        [c.strip() for c in line.strip("│ ").split("│")]
        for line in r.output.splitlines()
        if line.startswith("│") and "0x" in line
    ]
    assert rows == [
        ["2010", "1", "2010", asks[1][0].hash_hex],
        ["2030", "3", "6090", asks[2][0].hash_hex],
        ["2050", "1", "2050", asks[0][0].hash_hex],
        ["2000", "1", "2000", bids[1][0].hash_hex],
        ["1990", "0.5", "995", bids[0][0].hash_hex],
        ["~333.33333333", "3", "1000", bids[2][0].hash_hex],
    ]
    assert r.output.index("WETH/USDC asks (3)") < r.output.index("WETH/USDC bids (3)")
    # each column in its unit; the third is each order's worth, not a running total as the
    # page's "Total (WETH)" is (ux51: "total (USDC)" here, "Total (WETH)" there)
    heads = [[c.strip() for c in line.strip("┃ ").split("┃")] for line in r.output.splitlines()]
    heads = [h for h in heads if h[0] == "price (USDC)"]
    assert heads == [["price (USDC)", "amount (WETH)", "value (USDC)", "order"]] * 2, r.output


def test_book_refuses_a_misstated_hash(fake: FakeNode) -> None:
    s = signed(WETH, USDC, E18, 2000 * E6)
    fake.book["asks"] = page(
        [{"order": s.to_json(), "metaData": {**meta(s, E18), "orderHash": "0x" + "ab" * 32}}]
    )
    r = run_cli("book", "--node", fake.url)
    assert r.exit_code == 1 and "misstate the hash" in r.stderr


def test_book_refuses_orders_on_the_wrong_side(fake: FakeNode) -> None:
    s = signed(WETH, USDC, E18, 2000 * E6)  # an ask
    fake.book["bids"] = page([{"order": s.to_json(), "metaData": meta(s, E18)}])
    r = run_cli("book", "--node", fake.url)
    assert r.exit_code == 1 and "of another side" in r.stderr


# -- sdex cancel -------------------------------------------------------------------------------


def test_soft_cancel_signs_cancel_order(fake: FakeNode) -> None:
    h = signed(WETH, USDC, E18, 2000 * E6).hash
    r = run_cli("cancel", "0x" + h.hex(), *wallet_args(fake))
    assert r.exit_code == 0, r.output
    ((path_hash, body),) = fake.cancels
    assert path_hash == "0x" + h.hex()
    sig = bytes.fromhex(body["signature"][2:])
    assert recover_signer(DOMAIN.cancel_digest(h), sig) == MAKER
    assert f"order 0x{h.hex()} soft-cancelled at the node: status cancelled" in r.output


def test_a_soft_cancel_of_an_order_already_closed_does_not_say_cancelled(fake: FakeNode) -> None:
    """The node answers a cancel of a filled order with its status, filled (it keeps the
    signed cancel for its peers): review23, the wallet said "soft-cancelled ... filled"."""
    fake.cancel_status = "filled"
    h = signed(WETH, USDC, E18, 2000 * E6).hash
    r = run_cli("cancel", "0x" + h.hex(), *wallet_args(fake))
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    said = f"order 0x{h.hex()} was not open at the node (status filled): nothing left to cancel"
    assert said in out and "soft-cancelled" not in out, out


@pytest.mark.parametrize("bad", ["0x1234", "ab" * 32, "0x" + "gg" * 32])
def test_cancel_needs_an_order_hash(fake: FakeNode, bad: str) -> None:
    r = run_cli("cancel", bad, *wallet_args(fake))
    assert r.exit_code == 2 and "HASH" in r.stderr
    assert fake.cancels == []


def test_cancel_unknown_order_onchain_is_one_red_line(fake: FakeNode) -> None:
    r = run_cli("cancel", "0x" + "ab" * 32, *wallet_args(fake), "--onchain", "--rpc", "http://x:1")
    assert r.exit_code == 1
    assert "is not known to the node" in r.stderr and "nothing was cancelled" in r.stderr
    assert "(HTTP 404, code 100)" in r.stderr
    assert fake.cancels == []


def test_cancel_onchain(fake: FakeNode, chain: Chain, tmp_path: Path) -> None:
    c = chain
    fake.config = order_config(c.domain, c.weth.address, c.usdc.address)
    order = c.order(1, c.weth, E18, c.usdc, 2000 * E6)
    s = c.sign(order)
    fake.records[s.hash_hex] = {"order": s.to_json(), "metaData": meta(s, E18)}
    c.deployment.save(tmp_path / "devnet.json")
    maker_key = "0x" + c.keys[1].hex()

    # Not the maker: refused before anything is sent.
    r = run_cli("cancel", s.hash_hex, "--node", fake.url, "--key", "0x" + c.keys[2].hex(),
             "--onchain", "--deployment", str(tmp_path / "devnet.json"))  # fmt: skip
    assert r.exit_code == 2 and "only the order's maker" in r.stderr
    assert c.exchange.order_info(order).status is OrderStatus.FILLABLE

    # The maker, with the RPC from the deployment file.
    r = run_cli("cancel", s.hash_hex, "--node", fake.url, "--key", maker_key,
             "--onchain", "--deployment", str(tmp_path / "devnet.json"))  # fmt: skip
    assert r.exit_code == 0, r.output
    assert c.exchange.order_info(order).status is OrderStatus.CANCELLED
    assert re.search(rf"order {s.hash_hex} cancelled on chain in tx 0x[0-9a-f]{{64}}", r.output)
    ((_, body),) = fake.cancels
    assert recover_signer(c.domain.cancel_digest(s.hash), bytes.fromhex(body["signature"][2:])) == (
        c.address(1)
    )


def test_cancel_onchain_refuses_another_chain(fake: FakeNode, chain: Chain) -> None:
    c = chain
    other = Domain(c.domain.chain_id, c.usdc.address)  # a contract that is not the Exchange
    fake.config = order_config(other, c.weth.address, c.usdc.address)
    s = sign_order(c.order(1, c.weth, E18, c.usdc, 2000 * E6), other, c.keys[1])
    fake.records[s.hash_hex] = {"order": s.to_json(), "metaData": meta(s, E18)}
    r = run_cli("cancel", s.hash_hex, "--node", fake.url, "--key", "0x" + c.keys[1].hex(),
             "--onchain", "--rpc", c.deployment.rpc)  # fmt: skip
    assert r.exit_code == 1, r.output
    assert f"the chain at {c.deployment.rpc} is not the node's" in r.stderr
    assert fake.cancels == []


def test_cancel_onchain_with_no_chain_is_one_red_line(fake: FakeNode) -> None:
    s = signed(WETH, USDC, E18, 2000 * E6)
    fake.records[s.hash_hex] = {"order": s.to_json(), "metaData": meta(s, E18)}
    port = closed_port()
    r = run_cli("cancel", s.hash_hex, *wallet_args(fake), "--onchain",
                "--rpc", f"http://127.0.0.1:{port}")  # fmt: skip
    assert r.exit_code == 1
    (line,) = [x for x in r.stderr.splitlines() if x.strip()]
    assert line == (
        f"error: cannot reach the JSON-RPC endpoint http://127.0.0.1:{port}: "
        "[Errno 111] Connection refused"
    )
    assert fake.cancels == []


def test_cancel_onchain_without_a_deployment_file(fake: FakeNode, tmp_path: Path) -> None:
    s = signed(WETH, USDC, E18, 2000 * E6)
    fake.records[s.hash_hex] = {"order": s.to_json(), "metaData": meta(s, E18)}
    missing = tmp_path / "nope.json"
    r = run_cli("cancel", s.hash_hex, *wallet_args(fake), "--onchain", "--deployment", str(missing))
    assert r.exit_code == 2 and f"no deployment file at {missing}" in r.stderr


# -- sdex node ---------------------------------------------------------------------------------


def test_node_command_passes_its_options_to_run_node(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(node_main, "run_node", lambda **kw: calls.append(kw))
    monkeypatch.chdir(tmp_path)
    r = run_cli("node", "--port", "8001", "--peer", "http://a:1", "--peer", "http://b:2",
             "--rpc", "http://rpc:8545", "--deployment", "d.json", "--key", KEY.hex(),
             "--db", "n.db", "--fee-bps", "25", "--admin", "--log-level", "DEBUG",
             "--dev-wallets", "--gossip-scale", "0.2", "--max-http-per-client", "64",
             "--max-http", "1000", "--http-idle-timeout", "5", "--listing-rate-limit", "500",
             "--listing-rate-total", "50000", "--chain-read-limit", "7",
             "--peer-chain-read-limit", "70", "--chain-read-total", "700",
             "--drop-closed-after", "86400")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert calls == [
        {
            "port": 8001,
            "host": "127.0.0.1",
            "peers": ["http://a:1", "http://b:2"],
            "rpc": "http://rpc:8545",
            "deployment": Path("d.json"),
            "key": "0x" + KEY.hex(),
            "db": Path("n.db"),
            "fee_bps": 25,
            "admin": True,
            "node_key": None,
            "log_level": "debug",
            "dev_wallets": True,
            "gossip_scale": 0.2,
            "max_http_per_client": 64,
            "max_http": 1000,
            "http_idle_timeout": 5.0,
            "listing_rate_limit": 500.0,
            "listing_rate_total": 50000.0,
            "chain_read_limit": 7.0,
            "peer_chain_read_limit": 70.0,
            "chain_read_total": 700.0,
            "drop_closed_after": 86400.0,
            "refuse_damaged_rows": False,
            "max_base_fee": None,
            "fronts": 0,
            "trusted_proxies": (),
            "min_amounts": (),
        }
    ]
    r = run_cli("node", "--port", "8001", env={"SDEX_NODE_KEY": KEY.hex()})
    assert r.exit_code == 0 and calls[-1]["key"] == "0x" + KEY.hex() and calls[-1]["db"] is None
    assert calls[-1]["admin"] is False and calls[-1]["log_level"] == "info"
    assert calls[-1]["dev_wallets"] is False and calls[-1]["gossip_scale"] == 1.0
    assert calls[-1]["max_http"] is None and calls[-1]["http_idle_timeout"] is None
    assert calls[-1]["drop_closed_after"] is None  # (every accepted order kept: PRODUCT.md)
    assert calls[-1]["listing_rate_limit"] is None and calls[-1]["listing_rate_total"] is None
    assert calls[-1]["deployment"] == Path(".sdex/devnet.json") and calls[-1]["peers"] == []
    assert run_cli("node", "--port", "8001", "--fee-bps", "10001").exit_code == 2
    assert run_cli("node", "--key", KEY.hex()).exit_code == 2
    assert (
        run_cli("node", "--port", "8001", "--key", KEY.hex(), "--log-level", "loud").exit_code == 2
    )
    assert len(calls) == 2


def test_client_pages_fills_and_filters_orders_by_status(fake: FakeNode) -> None:
    from sdex.client import NodeClient, NodeProtocolError

    fill = {
        "transactionHash": "0x" + "ee" * 32, "logIndex": 0, "blockNumber": 7,
        "orderHash": "0x" + "cd" * 32, "maker": MAKER, "taker": ZERO_ADDRESS,
        "makerAmountFilled": "5", "takerAmountFilled": "7", "feeRecipient": ZERO_ADDRESS,
        "feePaid": "0", "settledByThisNode": False,
    }  # fmt: skip
    fake.fill_list = [{**fill, "logIndex": i} for i in range(5)]
    fake.max_per_page = 2
    with NodeClient(fake.url) as client:
        got = list(client.all_fills(per_page=2))
        assert [f.log_index for f in got] == [0, 1, 2, 3, 4]
        assert got[0].maker_filled == 5 and got[0].order_hash == b"\xcd" * 32
        assert [f.log_index for f in client.all_fills(per_page=2, limit=3)] == [0, 1, 2]
        client.orders(maker=MAKER, status="open")
        assert fake.queries[-1] == {"page": "1", "perPage": "100", "maker": MAKER, "status": "open"}
        fake.fill_list = [{**fill, "makerAmountFilled": "-1"}]
        with pytest.raises(NodeProtocolError, match="makerAmountFilled"):
            client.fills()


# -- a hostile node's answers ------------------------------------------------------------------


def hostile_app() -> web.Application:
    """Answers a wallet or the audit must survive: nested past any parser's recursion, larger
    than any page (``MAX_ANSWER`` + 1 MiB), and one byte at a time, slower than any timeout."""

    async def deep(_: web.Request) -> web.Response:
        return web.Response(text="[" * 100_000 + "]" * 100_000, content_type="application/json")

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        await resp.write(b'{"x": "')
        for _ in range(MAX_ANSWER // 2**20 + 1):
            await resp.write(b"a" * 2**20)
        await resp.write(b'"}')
        return resp

    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        for _ in range(150):  # 30 s in all, 0.2 s between bytes: each read well within 1 s
            await resp.write(b" ")
            await asyncio.sleep(0.2)
        await resp.write(b"{}")
        return resp

    app = web.Application()
    app.router.add_get("/deep/health", deep)
    app.router.add_get("/deep/v1/order_config", deep)
    app.router.add_get("/huge/health", huge)
    app.router.add_get("/trickle/health", trickle)
    return app


async def test_a_hostile_nodes_answers_are_bounded() -> None:
    """A node's answer is read with bounds (size, depth, time): a typed error, never a
    RecursionError traceback (``sdex book`` and ``sdex audit`` printed one), an answer read
    whole into memory, or a wait as long as the node cares to trickle."""
    async with serving(hostile_app()) as base:
        deep = NodeClient(base + "/deep")
        with pytest.raises(NodeProtocolError, match="without a JSON body"):
            await asyncio.to_thread(deep.health)
        r = await asyncio.to_thread(run_cli, "book", "--node", base + "/deep")
        assert r.exit_code == 1 and "Traceback" not in r.output, r.output
        assert "GET /v1/order_config answered HTTP 200 without a JSON body" in r.stderr
        with pytest.raises(NodeProtocolError, match=f"answered more than {MAX_ANSWER} bytes"):
            await asyncio.to_thread(NodeClient(base + "/huge").health)
        slow = NodeClient(base + "/trickle", timeout=1.0)
        started = time.monotonic()
        with pytest.raises(NodeUnreachableError, match="did not answer GET /health within 1s"):
            await asyncio.to_thread(slow.health)
        # (the whole answer takes 30 s: far from the bound, whatever the machine's load)
        assert time.monotonic() - started < 15.0
