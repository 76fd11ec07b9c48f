"""``sdex console`` driven without a terminal: lines fed on stdin through the real command
(``sdex console --node URL --key HEX``), or one at a time through ``onecmd``, against the canned
node of ``tests.fakenode`` (a real aiohttp server on loopback)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from rich.console import Console

from sdex.client import NodeClient
from sdex.console import WalletShell
from sdex.order import (
    ZERO_ADDRESS,
    Order,
    SignedOrder,
    address_of,
    random_salt,
    recover_signer,
    sign_order,
    to_checksum,
)
from tests.fakenode import (
    DOMAIN,
    E6,
    E18,
    KEY,
    MAKER,
    USDC,
    WETH,
    FakeNode,
    fake_node,
    meta,
    network_file,
    page,
    run_cli,
    signed,
    wallet_args,
)

OTHER_KEY = bytes.fromhex("5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
OTHER = address_of(OTHER_KEY)
SHOWN = to_checksum(OTHER)
"""``OTHER`` as the tables say it, checksummed (users89)."""


@pytest.fixture
def fake() -> Iterator[FakeNode]:
    with fake_node() as node:
        yield node


def console(fake: FakeNode, *lines: str, args: tuple[str, ...] = ()) -> Result:
    """Run ``sdex console`` with ``lines`` as its input (then end of input)."""
    return run_cli("console", *wallet_args(fake), *args, input="".join(x + "\n" for x in lines))


def posted(fake: FakeNode) -> list[tuple[SignedOrder, str]]:
    """The orders the console posted, with their time in force."""
    return [
        (
            SignedOrder.from_json({k: v for k, v in b.items() if k != "timeInForce"}, DOMAIN),
            b["timeInForce"],
        )
        for b in fake.posted
    ]


def record(s: SignedOrder, remaining: int, status: str = "open") -> dict[str, Any]:
    return {"order": s.to_json(), "metaData": meta(s, remaining, status)}


def table_rows(output: str) -> list[list[str]]:
    """The cells of the table rows that name an order or a transaction."""
    return [
        [c.strip() for c in line.strip("│ ").split("│")]
        for line in output.splitlines()
        if line.startswith("│") and "0x" in line
    ]


# -- start, help, quit -------------------------------------------------------------------------


def test_greets_lists_the_commands_and_quits(fake: FakeNode) -> None:
    r = console(fake, "help", "help send_order", "quit", "send_order buy limit 10 10")
    assert r.exit_code == 0, r.output
    greeting = r.output.splitlines()[:4]
    assert greeting == [
        f"SDEX console: node {fake.url}",
        f"chain 31337, exchange {to_checksum(DOMAIN.verifying_contract)}",  # (users89)
        f"market WETH/USDC, wallet {to_checksum(MAKER)}",
        "market orders slip at most 100 bps. Type help for the commands.",
    ], r.output
    assert all(len(line) <= 80 for line in greeting), greeting  # (piped: user38's 108, 132)
    for usage in (
        "send_order buy|sell limit PRICE AMOUNT [gtc|ioc|fok]",
        "send_order buy|sell market AMOUNT [SLIPPAGE_BPS]",
        "get_dump [all]",
        "cancel HASH",
        "book [DEPTH]",
        "fills",
        "quit, exit or Ctrl-D",
    ):
        assert usage in r.output
    assert "a market order is an IOC limit order at the best opposite price" in r.output
    assert "exit and Ctrl-D too" not in r.output  # (user50: said twice on the quit row)
    assert fake.posted == []  # nothing runs after quit
    assert r.stderr == ""


@pytest.mark.parametrize("end", ["exit", None])
def test_exit_and_end_of_input_leave(fake: FakeNode, end: str | None) -> None:
    r = console(fake, *([end] if end else []))
    assert r.exit_code == 0 and r.stderr == ""


def test_a_pair_the_node_does_not_list_is_refused(fake: FakeNode) -> None:
    r = console(fake, "book", args=("--pair", "WETH/DAI"))
    assert r.exit_code == 2
    assert "--pair: the node does not list token DAI (it lists: USDC, WETH)" in r.stderr
    assert fake.queries == []


# A node the console cannot use at start, or that goes down while it runs: test_console27_*.


# -- send_order --------------------------------------------------------------------------------


def test_limit_orders_are_signed_and_posted(fake: FakeNode) -> None:
    r = console(fake, "send_order buy limit 10 10", "SEND_ORDER Sell Limit 2000 0.5 ioc")
    assert r.exit_code == 0, r.output
    (buy, buy_tif), (sell, sell_tif) = posted(fake)
    assert (buy_tif, sell_tif) == ("gtc", "ioc")
    assert recover_signer(buy.hash, buy.signature) == MAKER
    b, s = buy.order, sell.order
    assert (b.maker_token, b.maker_amount, b.taker_token, b.taker_amount) == (
        USDC, 100 * E6, WETH, 10 * E18,
    )  # fmt: skip
    assert (s.maker_token, s.maker_amount, s.taker_token, s.taker_amount) == (
        WETH, E18 // 2, USDC, 1000 * E6,
    )  # fmt: skip
    # The same rendering as `sdex order`.
    assert "BUY 10 WETH for at most 100 USDC (limit 10 USDC/WETH); no fee" in r.output
    assert "SELL 0.5 WETH for at least 1000 USDC (limit 2000 USDC/WETH); no fee" in r.output
    assert f"order {buy.hash_hex}" in r.output and "status open, outcome rested" in r.output


def test_an_empty_line_does_not_send_the_order_again(fake: FakeNode) -> None:
    r = console(fake, "send_order buy limit 10 10", "", "  ")
    assert r.exit_code == 0, r.output
    assert len(fake.posted) == 1


def book_of(asks: list[tuple[int, int]], bids: list[tuple[int, int]]) -> dict[str, dict[str, Any]]:
    """A book of whole-order asks (WETH, USDC) and bids (USDC, WETH), in base units."""
    ask_orders = [signed(WETH, USDC, weth, usdc) for weth, usdc in asks]
    bid_orders = [signed(USDC, WETH, usdc, weth) for usdc, weth in bids]
    return {
        "asks": page([record(s, s.order.maker_amount) for s in ask_orders]),
        "bids": page([record(s, s.order.maker_amount) for s in bid_orders]),
    }


def test_market_buy_spends_what_its_amount_costs_bounded_by_the_slippage(fake: FakeNode) -> None:
    # The node's page is not sorted best first here: the console takes the best price anyway.
    fake.book = book_of(asks=[(E18, 2010 * E6), (2 * E18, 4000 * E6)], bids=[(1900 * E6, E18)])
    r = console(fake, "send_order buy market 1.5")
    assert r.exit_code == 0, r.output
    assert fake.queries == [{"baseToken": WETH, "quoteToken": USDC, "page": "1", "perPage": "100"}]
    ((s, tif),) = posted(fake)
    assert tif == "ioc"
    o = s.order
    # 1.5 WETH at the best ask, 2000: 3000 USDC, spent for at least 3000 / 2020 WETH (100 bps
    # above the best ask), rounded up. It was signed as 1.5 WETH at 2020: 3030 USDC, which at
    # the ask's 2000 bought 1.515 WETH (user30).
    least = -(-3000 * E18 // 2020)
    assert (o.maker_token, o.maker_amount, o.taker_token, o.taker_amount) == (
        USDC, 3000 * E6, WETH, least,
    )  # fmt: skip
    assert (
        "market buy: best ask 2000 USDC/WETH, 100 bps slippage: limit 2020, ioc: 1.5 WETH cost "
        "3000 USDC at the asks now; a buy fixes the USDC it spends: signed to spend that for at "
        "least ~1.48514851 WETH"
    ) in r.output, r.output
    assert "for at most 3000 USDC" in r.output


@pytest.mark.parametrize(
    ("asks", "typed", "spend", "least"),
    [
        # across two levels: 1 at 2000 and 0.5 at 2010 cost 3005, bounded by 2020
        ([(E18, 2000 * E6), (E18, 2010 * E6)], "1.5 100", 3005 * E6, -(-3005 * E18 // 2020)),
        # 0 bps: exactly the amount at the best ask
        ([(2 * E18, 4002 * E6)], "1 0", 2001 * E6, E18),
        # a level past the bound is not taken: only 1 WETH is offered up to 2020
        ([(E18, 2000 * E6), (E18, 2100 * E6)], "1.5 100", 2000 * E6, -(-2000 * E18 // 2020)),
    ],
)  # fmt: skip
def test_market_buy_walks_the_asks_up_to_the_bound(
    fake: FakeNode, asks: list[tuple[int, int]], typed: str, spend: int, least: int
) -> None:
    fake.book = book_of(asks=asks, bids=[])
    r = console(fake, f"send_order buy market {typed}")
    assert r.exit_code == 0, r.output
    ((s, _),) = posted(fake)
    assert (s.order.maker_amount, s.order.taker_amount) == (spend, least), r.output
    assert ("offered up to the limit" in r.output) == (asks[-1][1] == 2100 * E6), r.output


def test_market_sell_takes_the_slippage_of_the_console_or_the_command(fake: FakeNode) -> None:
    fake.book = book_of(asks=[], bids=[(1990 * E6, E18), (2000 * E6, E18)])
    r = console(fake, "send_order sell market 2", "send_order sell market 1 50", args=(
        "--slippage", "10",
    ))  # fmt: skip
    assert r.exit_code == 0, r.output
    (first, tif1), (second, tif2) = posted(fake)
    assert tif1 == tif2 == "ioc"
    # 2000 × (1 − 10 bps) = 1998 per WETH; then 2000 × (1 − 50 bps) = 1990.
    assert (first.order.maker_amount, first.order.taker_amount) == (2 * E18, 3996 * E6)
    assert (second.order.maker_amount, second.order.taker_amount) == (E18, 1990 * E6)
    assert "market sell: best bid 2000 USDC/WETH, 10 bps slippage: limit 1998, ioc" in r.output
    assert "market sell: best bid 2000 USDC/WETH, 50 bps slippage: limit 1990, ioc" in r.output


def test_a_market_order_into_an_empty_side_is_refused(fake: FakeNode) -> None:
    fake.book = book_of(asks=[], bids=[(2000 * E6, E18)])
    r = console(fake, "send_order buy market 1", "send_order sell market 1")
    assert r.exit_code == 1, r.output  # (a script with a failed command: user28)
    (line,) = [x for x in r.stderr.splitlines() if x.strip()]
    assert line == (  # (a script's error names its line and command: ux37)
        "line 1: send_order buy market 1: error: no asks in WETH/USDC: a market buy has nothing "
        "to take (send a limit order instead)"
    )
    ((s, _),) = posted(fake)  # the prompt went on: the sell was sent
    assert s.order.maker_token == WETH


def test_a_node_rejection_is_one_red_line_and_the_prompt_goes_on(fake: FakeNode) -> None:
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
    r = console(fake, "send_order buy limit 2000 1", "book")
    assert r.exit_code == 1, r.output  # (a script with a failed command: user28)
    (line,) = [x for x in r.stderr.splitlines() if x.strip()]
    assert line == (  # (a script's error names its line and command: ux37)
        "line 1: send_order buy limit 2000 1: error: Validation Failed (HTTP 400, code 100, "
        "ORDER_UNFUNDED): makerAmount: maker balance too low"
    )
    assert "WETH/USDC asks (0)" in r.output  # the next command ran
    assert "Traceback" not in r.output


BAD_INPUT = [
    ("no-args", "send_order", "send_order takes a side"),
    ("side", "send_order hold limit 1 1", "send_order takes a side"),
    ("kind", "send_order buy stop 1 1", "send_order takes a side"),
    ("limit-arity", "send_order buy limit 1", "a limit order takes PRICE AMOUNT"),
    ("price", "send_order buy limit 2e3 1", "PRICE must be a plain positive decimal"),
    ("amount-zero", "send_order sell limit 1 0", "AMOUNT must be greater than zero"),
    ("tif", "send_order buy limit 1 1 day", "time in force is gtc, ioc or fok, got 'day'"),
    ("dust", "send_order buy limit 0.5 0.000001", "less than one unit of USDC"),
    ("too-fine", "send_order sell limit 1 0.0000000000000000001", "more decimal places"),
    ("market-arity", "send_order buy market 1 50 x", "a market order takes AMOUNT"),
    ("slippage-big", "send_order buy market 1 10000", "SLIPPAGE_BPS is a whole number"),
    ("slippage-form", "send_order sell market 1 1.5", "SLIPPAGE_BPS is a whole number"),
]


@pytest.mark.parametrize(
    ("line", "problem"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_send_order_input_prints_its_usage(fake: FakeNode, line: str, problem: str) -> None:
    fake.book = book_of(asks=[(E18, 2000 * E6)], bids=[(2000 * E6, E18)])
    r = console(fake, line)
    assert r.exit_code == 1, r.output  # (a script with a failed command: user28)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    # (left48: "error:" as every other failed line says; a bad AMOUNT's lacked it)
    assert lines[0].startswith(f"line 1: {line}: error: ") and problem in lines[0], lines
    assert lines[1:] == [
        "usage: send_order buy|sell limit PRICE AMOUNT [gtc|ioc|fok]",
        "       send_order buy|sell market AMOUNT [SLIPPAGE_BPS]",
    ]
    assert fake.posted == []


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("send_order buy limit 2e3 1", ["buy", "2e3", "1"]),
        ("send_order sell limit 2000 0", ["sell", "2000", "0"]),
        ("send_order sell market abc", ["sell", "2000", "abc"]),
    ],
)
def test_a_bad_value_is_said_as_the_command_line_says_it(
    fake: FakeNode, line: str, args: list[str]
) -> None:
    """(ux51: the console said "error: PRICE must be ...", `sdex order` "Error: Invalid value
    for 'PRICE': PRICE must be ...": the console keeps its "error:", as its every failed
    line says, and says the rest in the command line's words)"""
    cli = run_cli("order", *args, *wallet_args(fake))
    assert cli.exit_code == 2, cli.output
    said = cli.stderr.splitlines()[-1].removeprefix("Error: ")
    assert said.startswith("Invalid value for '"), cli.stderr
    r = console(fake, line)
    assert r.exit_code == 1, r.output
    assert r.stderr.splitlines()[0] == f"line 1: {line}: error: {said}", (r.stderr, said)
    assert fake.posted == []


OTHER_BAD_INPUT = [
    ("cancel-none", "cancel", "cancel takes one order hash", "usage: cancel HASH"),
    ("cancel-hash", "cancel 0x1234", "an order hash is 0x and 64 hex digits", "usage: cancel HASH"),
    ("book-depth", "book 0", "book takes an optional depth", "usage: book [DEPTH]"),
    ("dump", "get_dump open", "get_dump takes nothing or all", "usage: get_dump [all]"),
    ("fills", "fills 5", "fills takes no arguments", "usage: fills"),
]


@pytest.mark.parametrize(
    ("line", "problem", "usage"),
    [c[1:] for c in OTHER_BAD_INPUT],
    ids=[c[0] for c in OTHER_BAD_INPUT],
)
def test_bad_input_prints_the_commands_usage(
    fake: FakeNode, line: str, problem: str, usage: str
) -> None:
    r = console(fake, line)
    assert r.exit_code == 1, r.output  # (a script with a failed command: user28)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert lines[0].startswith(f"line 1: {line}: error: ") and problem in lines[0], lines
    assert lines[1:] == [usage]
    assert fake.cancels == [] and fake.queries == []


def test_an_unknown_command_points_to_help(fake: FakeNode) -> None:
    r = console(fake, "get_orders", "help get_orders")
    assert r.stderr.splitlines() == [  # (a script's error names its line and command: ux37)
        "line 1: get_orders: unknown command 'get_orders': type help for the commands",
        "line 2: help get_orders: no command 'get_orders': type help for the commands",
    ]


# -- get_dump, cancel, book, fills -------------------------------------------------------------


def other(maker_token: str, taker_token: str, maker_amount: int, taker_amount: int) -> SignedOrder:
    """An order of another wallet than the console's."""
    order = Order(
        OTHER, ZERO_ADDRESS, maker_token, taker_token, maker_amount, taker_amount,
        ZERO_ADDRESS, 0, 2_000_000_000, random_salt(),
    )  # fmt: skip
    return sign_order(order, DOMAIN, OTHER_KEY)


def test_get_dump_reads_every_page_and_shows_the_open_orders(fake: FakeNode) -> None:
    bid = signed(USDC, WETH, 1000 * E6, E18 // 2)  # buy 0.5 @ 2000, 0.2 left
    ask = other(WETH, USDC, 3 * E18, 6300 * E6)  # sell 3 @ 2100, someone else's
    done = signed(WETH, USDC, E18, 2000 * E6)  # filled: shown with `all` only
    reverse = other(USDC, WETH, 500 * E6, E18 // 4)  # another market's view: sells USDC
    fake.order_list = [
        record(bid, 400 * E6, "partially_filled"),
        record(ask, 3 * E18),
        record(done, 0, "filled"),
        record(reverse, 500 * E6),
    ]
    fake.max_per_page = 3
    r = console(fake, "get_dump", "get_dump all", args=("--pair", "weth/usdc"))
    assert r.exit_code == 0, r.output
    # (walked by cursor: the first page by number, the next by the first page's next)
    walk = [q.get("page") or f"cursor {q['cursor']}" for q in fake.queries]
    assert walk == ["1", "cursor 2", "1", "cursor 2"]
    assert "the node's open orders (3)" in r.output and "the node's orders (4)" in r.output
    rows = table_rows(r.output)
    them = f"{SHOWN[:10]}…{SHOWN[-4:]}"
    assert rows[:3] == [
        [bid.hash_hex, "WETH/USDC", "buy", "2000", "0.5", "0.2", "partially_filled", "you"],
        [ask.hash_hex, "WETH/USDC", "sell", "2100", "3", "3", "open", them],
        [reverse.hash_hex, "WETH/USDC", "buy", "2000", "0.25", "0.25", "open", them],
    ]
    assert rows[3:] == [
        rows[0],
        rows[1],
        [done.hash_hex, "WETH/USDC", "sell", "2000", "1", "0", "filled", "you"],
        rows[2],
    ]


def test_an_80_column_terminal_shows_every_column(fake: FakeNode) -> None:
    """In 80 columns the order hash folds and the rest is shown (the hash kept whole left the
    other columns no room: a dump and the fills showed hashes and empty cells)."""
    ask = other(WETH, USDC, 3 * E18, 6300 * E6)  # sell 3 @ 2100
    fake.order_list = [record(ask, 3 * E18)]
    fake.fill_list = [
        {
            "transactionHash": "0x" + "ee" * 32, "logIndex": 0, "blockNumber": 7,
            "orderHash": ask.hash_hex, "maker": OTHER, "taker": MAKER,
            "makerAmountFilled": str(2 * E18), "takerAmountFilled": str(4200 * E6),
            "feeRecipient": ZERO_ADDRESS, "feePaid": "0", "settledByThisNode": True,
        }
    ]  # fmt: skip
    r = run_cli("console", *wallet_args(fake), input="get_dump\nfills\n", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(line) for line in lines[2:]) <= 80  # (user31: rules off, numbers whole)
    dump = [line for line in lines if "open" in line and "sell" in line]
    assert len(dump) == 1 and "2100" in dump[0], r.output
    trade = [line for line in lines if line.lstrip().startswith("7 ")]
    assert len(trade) == 1 and "2100" in trade[0] and "sell" in trade[0], r.output
    assert ask.hash_hex[:14] in r.output  # the hash's head, in its folded cell


def test_get_dump_refuses_a_misstated_hash(fake: FakeNode) -> None:
    s = signed(WETH, USDC, E18, 2000 * E6)
    rec = record(s, E18)
    rec["metaData"]["orderHash"] = "0x" + "ab" * 32
    fake.order_list = [rec]
    r = console(fake, "get_dump")
    said = "line 1: get_dump: error: the node's orders misstate the hash of an order"
    assert r.stderr.strip() == said  # (a script's error names its line and command: ux37)


def test_cancel_sends_a_signed_soft_cancel(fake: FakeNode) -> None:
    h = signed(WETH, USDC, E18, 2000 * E6).hash
    r = console(fake, f"cancel 0x{h.hex()}")
    assert r.exit_code == 0, r.output
    ((path_hash, body),) = fake.cancels
    assert path_hash == "0x" + h.hex()
    assert recover_signer(DOMAIN.cancel_digest(h), bytes.fromhex(body["signature"][2:])) == MAKER
    assert f"order 0x{h.hex()} soft-cancelled at the node: status cancelled" in r.output


def test_book_shows_the_market_best_first(fake: FakeNode) -> None:
    fake.book = book_of(asks=[(E18, 2010 * E6), (E18, 2005 * E6)], bids=[(1990 * E6, E18)])
    r = console(fake, "book 5")
    assert r.exit_code == 0, r.output
    assert fake.queries[0]["perPage"] == "5"
    assert [row[:3] for row in table_rows(r.output)] == [
        ["2005", "1", "2005"],
        ["2010", "1", "2010"],
        ["1990", "1", "1990"],
    ]


def test_fills_reads_every_page_and_shows_human_amounts(fake: FakeNode) -> None:
    buy = signed(USDC, WETH, 4000 * E6, 2 * E18)  # buy 2 @ 2000
    sell = other(WETH, USDC, E18, 1990 * E6)  # sell 1 @ 1990
    fake.records[buy.hash_hex] = record(buy, 2000 * E6, "partially_filled")
    fake.order_list = [record(sell, 0, "filled")]
    unknown = "0x" + "cd" * 32

    def fill(order_hash: str, maker: str, gave: int, got: int, fee: int) -> dict[str, Any]:
        return {
            "transactionHash": "0x" + "ee" * 32, "logIndex": 0, "blockNumber": 7,
            "orderHash": order_hash, "maker": maker, "taker": ZERO_ADDRESS,
            "makerAmountFilled": str(gave),
            "takerAmountFilled": str(got), "feeRecipient": ZERO_ADDRESS, "feePaid": str(fee),
            "settledByThisNode": True,
        }  # fmt: skip

    fake.fill_list = [
        fill(buy.hash_hex, MAKER, 2000 * E6, E18, 3 * E18 // 1000),
        fill(sell.hash_hex, OTHER, E18, 2000 * E6, 0),
        fill(unknown, OTHER, 5, 7, 0),
    ]
    fake.max_per_page = 2
    # get_dump first: the console remembers the orders it saw and asks only for the others.
    r = console(fake, "get_dump all", "fills")
    assert r.exit_code == 0, r.output
    assert "fills (3)" in r.output
    rows = table_rows(r.output)[-3:]
    tx, them = "0xeeeeeeee…eeee", f"{SHOWN[:10]}…{SHOWN[-4:]}"
    assert rows == [
        ["7", buy.hash_hex, "WETH/USDC", "buy", "1", "2000", "0.003 WETH", "you", tx],
        ["7", sell.hash_hex, "WETH/USDC", "sell", "1", "2000", "0 USDC", them, tx],
        ["7", unknown, "?", "?", "5", "7/5", "0", them, tx],
    ]


def test_a_fill_of_an_order_the_node_never_held_is_shown_through_its_match(
    fake: FakeNode,
) -> None:
    """A taker matched in full on another node is never gossiped: this node lists its fill
    but has no order for it. It showed as "?" with raw integers (``2000000000``, a price of
    ``1000000000000000000/2000000000``); it is the other side of its match's other fill."""
    ask = other(WETH, USDC, E18, 2000 * E6)  # sell 1 @ 2000, resting here
    fake.records[ask.hash_hex] = record(ask, 0, "filled")
    taker = "0x" + "cd" * 32  # the buy that took it, on another node
    lone = "0x" + "ab" * 32  # a fill with no other side (a fillOrder taker): still "?"

    def fill(order_hash: str, maker: str, taker: str, gave: int, got: int) -> dict[str, Any]:
        return {
            "transactionHash": "0x" + "ee" * 32, "logIndex": 0, "blockNumber": 7,
            "orderHash": order_hash, "maker": maker, "taker": taker,
            "makerAmountFilled": str(gave), "takerAmountFilled": str(got),
            "feeRecipient": ZERO_ADDRESS, "feePaid": "0", "settledByThisNode": False,
        }  # fmt: skip

    fake.fill_list = [
        fill(ask.hash_hex, OTHER, MAKER, E18, 2000 * E6),
        fill(taker, MAKER, OTHER, 2000 * E6, E18),
        fill(lone, MAKER, ZERO_ADDRESS, 5, 7),
    ]
    r = console(fake, "fills")
    assert r.exit_code == 0, r.output
    tx, them = "0xeeeeeeee…eeee", f"{SHOWN[:10]}…{SHOWN[-4:]}"
    assert table_rows(r.output) == [
        ["7", ask.hash_hex, "WETH/USDC", "sell", "1", "2000", "0 USDC", them, tx],
        ["7", taker, "WETH/USDC", "buy", "1", "2000", "0 WETH", "you", tx],
        ["7", lone, "?", "?", "5", "7/5", "0", "you", tx],
    ]


def test_a_malformed_fill_is_one_red_line(fake: FakeNode) -> None:
    fake.fill_list = [{"orderHash": "0x" + "cd" * 32}]
    r = console(fake, "fills")
    said = "line 1: fills: error: a fill record is malformed: KeyError('transactionHash')"
    assert r.stderr.startswith(said)  # (a script's error names its line and command: ux37)


# -- the shell itself ----------------------------------------------------------------------------


@pytest.fixture
def shell(fake: FakeNode, tmp_path: Path) -> Iterator[WalletShell]:
    with NodeClient(fake.url) as client:
        yield WalletShell(
            client,
            KEY,
            "WETH/USDC",
            out=Console(file=io.StringIO(), width=200),
            err=Console(file=io.StringIO(), width=200),
            stdin=io.StringIO(),
            deployment_path=network_file(fake, tmp_path / "devnet.json"),
            deployment_given=True,  # (its network's file: the listing checked, silently)
        )


def test_onecmd_keeps_going_and_quit_stops(shell: WalletShell, fake: FakeNode) -> None:
    assert shell.onecmd("send_order buy limit 10 10") is False
    assert shell.onecmd("send_order buy limit x 10") is False
    assert shell.onecmd("cancel 0x" + "ab" * 32) is False
    assert shell.onecmd("quit") is True
    assert shell.onecmd("EOF") is True
    assert len(fake.posted) == 1 and len(fake.cancels) == 1


def test_completion(shell: WalletShell, fake: FakeNode) -> None:
    assert shell.completenames("") == sorted(
        ["balance", "book", "cancel", "exit", "fills", "get_dump", "help", "quit", "send_order"]
    )
    assert shell.complete_send_order("", "send_order ", 11, 11) == ["buy ", "sell "]
    assert shell.complete_send_order("m", "send_order buy m", 15, 16) == ["market "]
    assert shell.complete_send_order("i", "send_order buy limit 1 2 i", 25, 26) == ["ioc "]
    assert shell.complete_send_order("", "send_order buy market 1 ", 24, 24) == []
    assert shell.complete_get_dump("a", "get_dump a", 9, 10) == ["all"]
    # cancel completes the hashes of this wallet's open orders the console has seen.
    assert shell.complete_cancel("0x", "cancel 0x", 7, 9) == []
    shell.onecmd("send_order sell limit 2000 1")
    ((s, _),) = posted(fake)
    assert shell.complete_cancel("0x", "cancel 0x", 7, 9) == [s.hash_hex]
    shell.onecmd("cancel " + s.hash_hex)
    assert shell.complete_cancel("0x", "cancel 0x", 7, 9) == []
