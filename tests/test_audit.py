"""``sdex audit`` on a real Hardhat chain: a clean record passes; tampered order files, lying
nodes, disagreeing books and doctored chain facts are each caught with their own kind."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web
from click.testing import CliRunner
from rich.console import Console

from sdex import model
from sdex.audit import (
    AuditReport,
    Cancel,
    Facts,
    OrderCopy,
    Transfer,
    audit_network,
    collect,
    expected_transfers,
    load_orders,
)
from sdex.chain import FillEvent, OrderStatus, Token, deploy, load_abi
from sdex.cli import main
from sdex.client import NodeApiError, NodeClient, NodeUnreachableError
from sdex.order import SignedOrder, sign_order, to_checksum
from tests.conftest import Chain
from tests.nodethread import node_thread
from tests.nodeutil import (
    free_port,
    node_config,
    running_node,
    wait_for,
)

E18 = 10**18
E6 = 10**6
OPERATOR = 18  # sends the test's settlements (19 operates the in-process node)
ALICE, BOB, CAROL, DAVE, FEES = 1, 2, 3, 4, 9


def ask(c: Chain, maker: int, weth: int, usdc: int, **kw: object) -> SignedOrder:
    """A signed order selling ``weth`` WETH for ``usdc`` USDC."""
    return c.sign(c.order(maker, c.weth, weth, c.usdc, usdc, **kw))


def bid(c: Chain, maker: int, weth: int, usdc: int, **kw: object) -> SignedOrder:
    """A signed order buying ``weth`` WETH for ``usdc`` USDC."""
    return c.sign(c.order(maker, c.usdc, usdc, c.weth, weth, **kw))


@dataclass
class Story:
    """What ``settle`` put on chain."""

    orders: list[SignedOrder]  # every order that was filled, matched or tried
    fills: list[FillEvent]
    resting: SignedOrder  # partly filled, still fillable
    filled: SignedOrder  # fully filled
    taken: SignedOrder  # filled by fillOrder
    cancelled: SignedOrder  # never filled, cancelled on chain


def settle(c: Chain) -> Story:
    """A match with fees on both sides, a fillOrder with a fee, a batch of two matches of
    which one fails (skipped), and an on-chain cancel."""
    fees = {"fee_recipient": c.address(FEES)}
    resting = ask(c, ALICE, 2 * E18, 6000 * E6, fee_amount=30 * E6, **fees)
    filled = bid(c, BOB, E18, 3100 * E6, fee_amount=E18 // 100, **fees)
    receipts = [c.exchange.match_orders(c.sender(OPERATOR), resting, filled)]
    taken = bid(c, DAVE, E18, 2900 * E6, fee_amount=E18 // 200, **fees)
    receipts.append(c.exchange.fill_order(c.sender(CAROL), taken, E18 // 4))
    batch_ask = ask(c, ALICE, E18, 3000 * E6)
    half = bid(c, CAROL, E18 // 2, 1500 * E6)
    too_cheap = bid(c, BOB, E18 // 2, 1400 * E6)  # 2800 < 3000: PricesDoNotCross, skipped
    receipts.append(
        c.exchange.batch_match_orders(
            c.sender(OPERATOR), [(batch_ask, half), (batch_ask, too_cheap)]
        )
    )
    assert len(c.exchange.skipped(receipts[-1].logs)) == 1
    cancelled = ask(c, DAVE, E18, 3300 * E6)
    c.exchange.cancel_order(c.sender(DAVE), cancelled.order)
    fills = [f for r in receipts for f in c.exchange.fills(r.logs)]
    assert len(fills) == 5
    return Story(
        orders=[resting, filled, taken, batch_ask, half, too_cheap, cancelled],
        fills=fills,
        resting=resting,
        filled=filled,
        taken=taken,
        cancelled=cancelled,
    )


def write_orders(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(entries))
    return path


def file_copies(c: Chain, path: Path) -> list[OrderCopy]:
    return load_orders(path, c.domain)


def audit(
    c: Chain,
    nodes: list[str] | None = None,
    orders: list[OrderCopy] | None = None,
    calldata: bool = True,
) -> AuditReport:
    return audit_network(
        c.deployment, nodes or [], orders=orders or [], sync_timeout=5.0, calldata=calldata
    )


# -- the chain's record against signed orders ------------------------------------------------


def test_clean_record_passes_with_an_orders_file(chain: Chain, tmp_path: Path) -> None:
    c = chain
    story = settle(c)
    path = write_orders(tmp_path / "orders.json", [s.to_json() for s in story.orders])
    report = audit(c, orders=file_copies(c, path))
    assert report.ok, report.to_json()
    out = report.to_json()
    assert out["checked"] == {
        "order_found": 5,
        "order_hash": 0,  # plain order JSONs name no hash
        "signature": 7,
        "parties": 5,
        "limit_price": 5,
        "fee": 5,
        "fillable": 5,
        "overfill": 5,
        "match": 2,
        "transfers": 3,
        "node_reachable": 0,
        "node_watcher": 0,
        "node_book": 0,
        "node_closed": 0,
        "node_cancel_kept": 0,
        "node_fills": 0,
        "node_missing_fills": 0,
        "books_agree": 0,
    }
    assert out["read"] == {
        "fills": 5,
        "cancels": 1,
        "cancelsUpTo": 0,
        "matchesSkipped": 1,
        "settlementTxs": 3,
        "calldataDecoded": 3,
        "orders": 7,
        "nodes": 0,
    }
    # (user38: the printed header was one line of ~190 columns piped)
    buf = io.StringIO()
    report.print(Console(file=buf, width=80, soft_wrap=True, highlight=False))
    head = buf.getvalue().splitlines()[:4]
    assert head[0] == f"audit of Exchange {to_checksum(report.exchange)}", head
    assert " ".join(" ".join(head).split()) == (
        f"audit of Exchange {to_checksum(report.exchange)} on chain {report.chain_id}, blocks "
        f"{report.from_block}..{report.to_block}: 5 fills in 3 settlement txs, 1 cancel, "
        "7 signed orders (calldata of 3 of 3 settlement txs decoded), 0 nodes"
    ), head
    assert all(len(line) <= 80 for line in head), head


def _tamper_amount(entry: dict[str, Any]) -> None:
    entry["takerAmount"] = str(int(entry["takerAmount"]) - 1)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # the changed order is another order: the fill's is missing, and the maker's
        # signature (over the real order) does not sign the changed one
        ("amount changed", {"missing_order", "bad_signature"}),
        (
            "amount changed, filed under its hash",
            {"hash_mismatch", "missing_order", "bad_signature"},
        ),
        ("signature forged by another key", {"bad_signature"}),
        ("signature garbled", {"bad_signature"}),
        ("order left out", {"missing_order"}),
    ],
)
def test_tampered_orders_file_is_caught(
    chain: Chain, tmp_path: Path, case: str, expected: set[str]
) -> None:
    """The file as the only order source (the calldata's orders left out); then with the
    calldata too, which holds each filled order: the file's bad copy is still caught, but
    the fill no longer lacks its order."""
    c = chain
    story = settle(c)
    entries = [s.to_json() for s in story.orders]
    i = story.orders.index(story.taken)
    victim: dict[str, Any] = dict(entries[i])
    if case == "amount changed":
        _tamper_amount(victim)
    elif case == "amount changed, filed under its hash":
        _tamper_amount(victim)
        victim["orderHash"] = story.taken.hash_hex
    elif case == "signature forged by another key":
        forged = sign_order(story.taken.order, c.domain, c.keys[BOB])
        victim["signature"] = "0x" + forged.signature.hex()
    elif case == "signature garbled":
        sig = bytearray(story.taken.signature)
        sig[10] ^= 0xFF
        victim["signature"] = "0x" + sig.hex()
    entries[i] = victim
    if case == "order left out":
        del entries[i]
    copies = file_copies(c, write_orders(tmp_path / "o.json", entries))
    with_calldata = audit(c, orders=copies)
    assert with_calldata.kinds() == expected - {"missing_order"}, with_calldata.to_json()
    report = audit(c, orders=copies, calldata=False)
    assert report.kinds() == expected, report.to_json()
    for d in report.discrepancies:
        if d.kind == "bad_signature":
            assert d.source == f"{tmp_path / 'o.json'}#{i}"
        else:
            assert d.order_hash == story.taken.hash_hex
    if "missing_order" in expected:
        (d,) = (d for d in report.discrepancies if d.kind == "missing_order")
        fill = next(f for f in story.fills if f.order_hash == story.taken.hash)
        assert (d.tx_hash, d.log_index) == (fill.tx_hash, fill.log_index)


def test_contract_maker_signature_is_the_chains_verdict(chain: Chain, tmp_path: Path) -> None:
    """An EIP-1271 wallet's signature recovers to its owner, not to the maker: the audit
    takes the chain's ``signatureValid`` for it."""
    c = chain
    owner, stranger = 5, 6
    wallet = deploy(c.sender(OPERATOR), "ERC1271Wallet", c.address(owner))
    c.weth.transfer(c.sender(owner), wallet, E18)
    c.sender(owner).transact(wallet, load_abi("ERC1271Wallet").fn("approve").encode(
        c.weth.address, c.deployment.exchange, 2**256 - 1))  # fmt: skip
    order = replace(c.order(ALICE, c.weth, E18, c.usdc, 3000 * E6), maker=wallet)
    good = sign_order(order, c.domain, c.keys[owner])
    taker = bid(c, BOB, E18, 3000 * E6)
    c.exchange.match_orders(c.sender(OPERATOR), good, taker)
    path = write_orders(tmp_path / "o.json", [good.to_json(), taker.to_json()])
    assert audit(c, orders=file_copies(c, path)).ok

    forged = sign_order(order, c.domain, c.keys[stranger])
    path = write_orders(tmp_path / "f.json", [forged.to_json(), taker.to_json()])
    report = audit(c, orders=file_copies(c, path))
    (d,) = report.discrepancies
    assert (d.kind, d.order_hash) == ("bad_signature", good.hash_hex)
    assert "EIP-1271" in d.detail


def test_fee_on_transfer_token_movements_are_caught(chain: Chain, tmp_path: Path) -> None:
    """A token that burns 1% of each transfer: the fills are right, the movements are not."""
    c = chain
    fot = Token(c.rpc, deploy(c.sender(OPERATOR), "FeeOnTransferToken"))
    fot.abi = load_abi("FeeOnTransferToken")
    for who in (ALICE, BOB):
        fot.send(c.sender(OPERATOR), "mint", c.address(who), 1000 * E18)
        fot.send(c.sender(who), "approve", c.deployment.exchange, 2**256 - 1)
    left = c.sign(c.order(ALICE, c.weth, E18, fot, 1000 * E18))
    right = c.sign(c.order(BOB, fot, 1000 * E18, c.weth, E18))
    receipt = c.exchange.match_orders(c.sender(OPERATOR), left, right)
    path = write_orders(tmp_path / "o.json", [left.to_json(), right.to_json()])
    report = audit(c, orders=file_copies(c, path))
    (d,) = report.discrepancies
    assert (d.kind, d.tx_hash) == ("transfers_mismatch", receipt.tx_hash)
    burned, kept = 10 * E18, 990 * E18
    assert f"expected but not seen: {1000 * E18} of {to_checksum(fot.address)}" in d.detail
    fot_, bob, alice = (to_checksum(x) for x in (fot.address, c.address(BOB), c.address(ALICE)))
    assert f"seen but not expected: {burned} of {fot_}" in d.detail
    assert f"{kept} of {fot_} {bob}→{alice}" in d.detail


def _mutate(facts: Facts, story: Story, case: str) -> None:
    """Doctor one fact as a broken contract, token or chain would show it."""
    ch = facts.chain
    taken = next(i for i, f in enumerate(ch.fills) if f.order_hash == story.taken.hash)
    fill = ch.fills[taken]
    if case == "transfer missing":
        ch.transfers[fill.tx_hash].pop()
    elif case == "token skims a fee":  # a fee-on-transfer token: less arrives, rest elsewhere
        t = ch.transfers[fill.tx_hash][0]
        ch.transfers[fill.tx_hash][0] = replace(t, amount=t.amount - 7)
        ch.transfers[fill.tx_hash].append(Transfer(t.token, t.sender, "0x" + "77" * 20, 7))
    elif case == "zero-amount transfer":  # harmless: ignored, as the contract skips them
        t = ch.transfers[fill.tx_hash][0]
        ch.transfers[fill.tx_hash].append(replace(t, amount=0))
    elif case == "fee off by one":
        ch.fills[taken] = replace(fill, fee=fill.fee - 1, taker_filled=fill.taker_filled)
    elif case == "maker paid below its price":
        ch.fills[taken] = replace(fill, taker_filled=fill.taker_filled // 2)
    elif case == "taker paid above the formula":
        ch.fills[taken] = replace(fill, taker_filled=fill.taker_filled + 1)
    elif case == "filled beyond makerAmount":  # a second, whole fill, with its transfers
        o = story.taken.order
        again = replace(
            fill,
            tx_hash="0x" + "ee" * 32,
            maker_filled=o.maker_amount,
            taker_filled=o.taker_amount,
            fee=o.fee_amount,
        )
        ch.fills.append(again)
        ch.transfers[again.tx_hash] = expected_transfers([again], [o])
    elif case == "chain fill state differs":
        key = next(k for k in ch.states if k[0] == story.taken.hash)
        ch.states[key] = replace(ch.states[key], filled=ch.states[key].filled + 1)
    elif case == "filled after its cancel":
        ch.cancels.append(
            Cancel(fill.order_hash, fill.maker, fill.block_number, fill.log_index - 1, "0xc")
        )
    elif case == "filled after expiry":
        ch.block_times[fill.block_number] = story.taken.order.expiry
    elif case == "maker is someone else":
        ch.fills[taken] = replace(fill, maker="0x" + "66" * 20)
    elif case == "match halves disagree":
        left = next(i for i, f in enumerate(ch.fills) if f.order_hash == story.resting.hash)
        right = ch.fills[left + 1]
        ch.fills[left + 1] = replace(right, taker="0x" + "55" * 20)
    else:
        raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("transfer missing", {"transfers_mismatch"}),
        ("token skims a fee", {"transfers_mismatch"}),
        ("zero-amount transfer", set()),
        ("fee off by one", {"fee_wrong", "transfers_mismatch"}),
        ("maker paid below its price", {"price_violated", "transfers_mismatch"}),
        ("taker paid above the formula", {"amounts_off_formula", "transfers_mismatch"}),
        ("filled beyond makerAmount", {"overfilled", "fill_state_mismatch"}),
        ("chain fill state differs", {"fill_state_mismatch"}),
        ("filled after its cancel", {"fill_after_cancel"}),
        ("filled after expiry", {"fill_after_expiry"}),
        ("maker is someone else", {"maker_mismatch", "transfers_mismatch"}),
        ("match halves disagree", {"match_inconsistent", "transfers_mismatch"}),
    ],
)
def test_checks_catch_doctored_facts(
    chain: Chain, tmp_path: Path, case: str, expected: set[str]
) -> None:
    """The pure checks on facts read from the chain, one fact changed at a time."""
    c = chain
    story = settle(c)
    copies = [OrderCopy(s, "test") for s in story.orders]
    facts = collect(c.deployment, orders=copies)
    assert AuditReport.of(facts).ok
    _mutate(facts, story, case)
    report = AuditReport.of(facts)
    assert report.kinds() == expected, report.to_json()


# -- nodes: a fake node API that says what the test wants ------------------------------------


def record(
    c: Chain, s: SignedOrder, status: str | None = None, filled: int | None = None
) -> dict[str, Any]:
    """The node API's record of ``s``, true to the chain unless told otherwise."""
    info = c.exchange.order_info(s.order)
    if status is None:
        status = {
            OrderStatus.FILLED: "filled",
            OrderStatus.CANCELLED: "cancelled",
            OrderStatus.EXPIRED: "expired",
        }.get(info.status, "partially_filled" if info.filled else "open")
    real = info.filled if filled is None else filled
    return {
        "order": s.to_json(),
        "metaData": {
            "orderHash": s.hash_hex,
            "status": status,
            "filledMakerAmount": str(real),
            "remainingFillableMakerAmount": str(s.order.maker_amount - real),
        },
    }


def fill_json(f: FillEvent) -> dict[str, Any]:
    """What a node's GET /v1/fills says of ``f`` (the node's own writer)."""
    return model.fill_json(f, ours=True)


@dataclass
class FakeNode:
    """Serves ``GET /v1/orders`` (paged), ``/v1/orders/{hash}`` and ``/v1/fills`` (paged) from
    lists the test crafts; ``listed`` False hides the records from the list (by hash only)."""

    records: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    listed: bool = True
    health: dict[str, Any] | None = None  # served at /health when set

    def app(self) -> web.Application:
        app = web.Application()
        if self.health is not None:
            app.router.add_get("/health", self.get_health)
        app.router.add_get("/v1/orders", self.orders)
        app.router.add_get("/v1/orders/{hash}", self.order)
        app.router.add_get("/v1/fills", self.fill_page)
        return app

    @staticmethod
    def _page(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        page = int(request.query.get("cursor", request.query.get("page", 1)))
        per = int(request.query.get("perPage", 100))
        chunk = items[(page - 1) * per : page * per]
        more = str(page + 1) if page * per < len(items) else None  # (the next page's number)
        return web.json_response(
            {"total": len(items), "page": page, "perPage": per, "records": chunk, "next": more}
        )

    async def orders(self, request: web.Request) -> web.Response:
        return self._page(request, self.records if self.listed else [])

    async def order(self, request: web.Request) -> web.Response:
        for r in self.records:
            if r["metaData"]["orderHash"] == request.match_info["hash"].lower():
                return web.json_response(r)
        return web.json_response({"code": 100, "reason": "order not found"}, status=404)

    async def fill_page(self, request: web.Request) -> web.Response:
        return self._page(request, self.fills)

    async def get_health(self, request: web.Request) -> web.Response:
        return web.json_response(self.health)


@contextlib.asynccontextmanager
async def serving(*nodes: FakeNode) -> AsyncIterator[list[str]]:
    """The fake nodes on loopback ports; their URLs."""
    runners, urls = [], []
    try:
        for n in nodes:
            runner = web.AppRunner(n.app(), access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", 0).start()  # (bound at once: none takes it)
            urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
        yield urls
    finally:
        for r in runners:
            await r.cleanup()


def honest(c: Chain, story: Story) -> FakeNode:
    return FakeNode([record(c, s) for s in story.orders], [fill_json(f) for f in story.fills])


async def audit_nodes(c: Chain, *nodes: FakeNode, calldata: bool = True) -> AuditReport:
    async with serving(*nodes) as urls:
        # the audit is synchronous and calls these servers: run it off the event loop
        return await asyncio.to_thread(audit, c, urls, None, calldata)


async def test_honest_fake_node_passes_and_supplies_the_orders(chain: Chain) -> None:
    c = chain
    story = settle(c)
    report = await audit_nodes(c, honest(c, story))
    assert report.ok, report.to_json()
    checked = report.to_json()["checked"]
    assert isinstance(checked, dict)
    # open: three partly filled orders and the one its match skipped; and the cancelled
    # one's filled amount (the filled one is not checked)
    assert checked["node_book"] == 5
    assert checked["node_fills"] == 5
    assert checked["node_missing_fills"] == 5
    assert checked["order_found"] == 5 and checked["order_hash"] == 7


async def test_orders_looked_up_by_hash_when_not_listed(chain: Chain) -> None:
    c = chain
    story = settle(c)
    node = honest(c, story)
    node.listed = False
    report = await audit_nodes(c, node, calldata=False)  # the node the only order source
    assert report.ok, report.to_json()
    assert report.to_json()["read"] == {
        "fills": 5,
        "cancels": 1,
        "cancelsUpTo": 0,
        "matchesSkipped": 1,
        "settlementTxs": 3,
        "calldataDecoded": 0,
        "orders": 5,  # only the filled ones are asked for
        "nodes": 1,
    }


def _lie(c: Chain, story: Story, node: FakeNode, case: str) -> str:
    """Make ``node`` lie as ``case`` says; returns the order hash the lie is about."""
    recs = {r["metaData"]["orderHash"]: r for r in node.records}
    if case == "claims a fill that never happened":
        fake = fill_json(story.fills[0])
        fake["transactionHash"] = "0x" + "ab" * 32
        node.fills.append(fake)
        return story.resting.hash_hex
    if case == "hides a real fill":
        hidden = node.fills.pop(1)
        return hidden["orderHash"]  # type: ignore[no-any-return]
    if case == "inflates a real fill":
        node.fills[2]["makerAmountFilled"] = str(int(node.fills[2]["makerAmountFilled"]) + 1)
        return node.fills[2]["orderHash"]  # type: ignore[no-any-return]
    if case == "keeps a cancelled order":
        recs[story.cancelled.hash_hex].update(record(c, story.cancelled, status="open"))
        return story.cancelled.hash_hex
    if case == "keeps a filled order":
        recs[story.filled.hash_hex].update(record(c, story.filled, status="partially_filled"))
        return story.filled.hash_hex
    if case == "keeps an expired order":
        expired = ask(c, CAROL, E18, 3000 * E6, expiry=c.now() - 1)
        node.records.append(record(c, expired, status="open"))
        return expired.hash_hex
    if case == "says more is filled than the chain":
        info = c.exchange.order_info(story.resting.order)
        recs[story.resting.hash_hex].update(record(c, story.resting, filled=info.filled + 1))
        return story.resting.hash_hex
    if case == "says a closed order has more filled than the chain":
        # review20: a soft-cancelled order kept a fill a devnet reset undid
        gone = ask(c, CAROL, E18, 3000 * E6)
        rec = record(c, gone, status="cancelled", filled=E18 // 4)
        rec["metaData"].update(reason="soft cancel by the maker", pendingMakerAmount="0")
        node.records.append(rec)
        return gone.hash_hex
    if case == "files an order under another hash":
        other = ask(c, CAROL, E18, 3000 * E6)
        rec = record(c, other)
        rec["metaData"]["orderHash"] = "0x" + "cd" * 32
        node.records.append(rec)
        return "0x" + "cd" * 32
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "kind"),
    [
        ("claims a fill that never happened", "node_phantom_fill"),
        ("inflates a real fill", "node_fill_mismatch"),
        ("hides a real fill", "node_missing_fill"),
        ("keeps a cancelled order", "node_keeps_closed_order"),
        ("keeps a filled order", "node_keeps_closed_order"),
        ("keeps an expired order", "node_keeps_closed_order"),
        ("says more is filled than the chain", "node_filled_above_chain"),
        ("says a closed order has more filled than the chain", "node_filled_above_chain"),
        ("files an order under another hash", "hash_mismatch"),
    ],
)
async def test_lying_node_is_caught(chain: Chain, case: str, kind: str) -> None:
    c = chain
    story = settle(c)
    node = honest(c, story)
    about = _lie(c, story, node, case)
    report = await audit_nodes(c, node)
    assert report.kinds() == {kind}, report.to_json()
    (d,) = report.discrepancies
    assert d.order_hash == about
    if kind != "hash_mismatch":
        assert d.node is not None and d.node.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("status", "reason", "pending", "flagged"),
    [
        ("cancelled", "soft cancel by the maker", 0, True),
        ("removed", "dropped", 0, True),
        ("removed", "self_trade", 0, True),
        # the fill was in flight when the node closed it, and said so: not after the close
        ("removed", "dropped", None, False),
        ("expired", "expired", 0, False),  # closed by the chain's rule, checked on its own
    ],
)
async def test_fill_after_the_node_closed_the_order(
    chain: Chain, status: str, reason: str, pending: int | None, flagged: bool
) -> None:
    c = chain
    story = settle(c)
    node = honest(c, story)
    (rec,) = (r for r in node.records if r["metaData"]["orderHash"] == story.taken.hash_hex)
    fill = next(f for f in story.fills if f.order_hash == story.taken.hash)
    rec["metaData"].update(
        status=status,
        reason=reason,
        filledMakerAmount="0",
        pendingMakerAmount=str(fill.maker_filled if pending is None else pending),
    )
    report = await audit_nodes(c, node)
    if not flagged:
        assert report.ok, report.to_json()
        return
    assert report.kinds() == {"fill_after_node_closed"}, report.to_json()
    (d,) = report.discrepancies
    assert (d.order_hash, d.tx_hash, d.log_index) == (
        story.taken.hash_hex, fill.tx_hash, fill.log_index,
    )  # fmt: skip
    assert d.node is not None and d.node.startswith("http://127.0.0.1:")
    assert f"reported the order {status} ({reason}) with 0 filled" in d.detail


async def test_a_stalled_watcher_is_flagged(chain: Chain) -> None:
    c = chain
    story = settle(c)
    node = honest(c, story)
    d = c.deployment
    node.health = {"status": "ok", "chainId": d.chain_id, "exchange": d.exchange, "block": 1}
    head = int(c.rpc.call("eth_blockNumber"), 16)
    async with serving(node) as urls:
        report = await asyncio.to_thread(audit_network, d, urls, orders=[], sync_timeout=0.3)
    assert report.kinds() == {"node_watcher_stalled"}, report.to_json()
    (found,) = report.discrepancies
    assert found.node == urls[0]
    assert f"checkpoint is 1, {head - 1} blocks behind the chain head {head}" in found.detail
    # caught up: clean
    node.health["block"] = head
    assert (await audit_nodes(c, node)).ok


async def test_cancelled_order_kept_open_names_the_chain_status(chain: Chain) -> None:
    """The brief's case end to end: cancel on chain, the node keeps showing it open."""
    c = chain
    story = settle(c)
    kept = ask(c, CAROL, E18, 3000 * E6)
    node = honest(c, story)
    node.records.append(record(c, kept))
    assert (await audit_nodes(c, node)).ok
    c.exchange.cancel_order(c.sender(CAROL), kept.order)
    report = await audit_nodes(c, node)
    (d,) = report.discrepancies
    assert (d.kind, d.order_hash) == ("node_keeps_closed_order", kept.hash_hex)
    assert "open" in d.detail and "cancelled" in d.detail


async def test_two_honest_nodes_whose_books_disagree(chain: Chain) -> None:
    c = chain
    story = settle(c)
    extra = ask(c, CAROL, E18, 3000 * E6)  # valid and fillable, but only node A has it
    a, b = honest(c, story), honest(c, story)
    a.records.append(record(c, extra))
    async with serving(a, b) as urls:
        report = await asyncio.to_thread(audit, c, urls)
    (d,) = report.discrepancies
    assert (d.kind, d.order_hash) == ("books_disagree", extra.hash_hex)
    assert d.detail == f"open at {urls[0]}; not at {urls[1]}"


async def test_node_answering_off_the_api_is_a_discrepancy(chain: Chain) -> None:
    c = chain
    story = settle(c)
    other = honest(c, story)
    other.health = {"status": "ok", "chainId": 31337, "exchange": "0x" + "12" * 20, "block": 1}
    garbled = honest(c, story)
    garbled.fills[0]["logIndex"] = "first"
    report = await audit_nodes(c, other, garbled)
    assert report.kinds() == {"node_bad_answer"}, report.to_json()
    a, b = report.discrepancies
    assert "not the deployment's" in a.detail and "logIndex" in b.detail


async def test_unreachable_node_is_a_discrepancy(chain: Chain) -> None:
    """The node is flagged; the fills are still checked, against the calldata's orders
    (with the calldata left out, the node was their only source: ``missing_order``)."""
    c = chain
    settle(c)
    url = f"http://127.0.0.1:{free_port()}"
    report = await asyncio.to_thread(audit, c, [url])
    assert report.kinds() == {"node_unreachable"}, report.to_json()
    assert report.discrepancies[0].node == url
    assert report.to_json()["checked"]["limit_price"] == 5
    report = await asyncio.to_thread(audit, c, [url], None, False)
    assert report.kinds() == {"node_unreachable", "missing_order"}


# -- a real node --------------------------------------------------------------------------------


async def test_real_node_passes(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_, api):
        resting = ask(c, ALICE, 2 * E18, 6000 * E6)
        assert (await api.post_order(resting))[0] == 201
        taker = bid(c, BOB, E18, 3000 * E6)
        code, body = await api.post_order(taker)
        assert code == 201 and body["matches"], body

        async def settled() -> bool:
            _, fills = await api.get("/v1/fills")
            return int(fills["total"]) == 2

        await wait_for(settled)
        report = await asyncio.to_thread(audit, c, [api.base])
    assert report.ok, report.to_json()
    checked = report.to_json()["checked"]
    assert isinstance(checked, dict)
    assert checked["node_fills"] == 2 and checked["node_book"] == 1
    assert checked["order_found"] == 2 and checked["transfers"] == 1
    (seen,) = report.nodes
    assert seen.block is not None and seen.block >= report.to_block - 1
    assert (seen.open_orders, seen.fills, seen.error) == (1, 2, None)


def test_fill_of_an_order_a_node_process_removed_fails_the_audit(
    chain: Chain, tmp_path: Path
) -> None:
    """Issue 10 item 7, end to end: a node as ``sdex node`` configures it (served in this
    process, ``node_thread``: the audit is the subject, not the node's process; suite98)
    answers an IOC order ``removed`` (dropped, no match); the order is then filled on chain
    by someone holding it; ``sdex audit`` exits 1 naming the order, the fill and the node."""
    c = chain
    deployment = tmp_path / "devnet.json"
    c.deployment.save(deployment)
    with node_thread(deployment, c.keys[17], tmp_path / "n.db") as (_, url):
        with NodeClient(url, timeout=5.0) as client:

            def up() -> bool:
                try:
                    return client.health()["block"] is not None
                except (NodeUnreachableError, NodeApiError):
                    return False

            asyncio.run(wait_for(up, timeout=60))
            ioc = bid(c, BOB, E18, 3000 * E6)
            posted = client.post_order(ioc, "ioc")
            assert (posted.status, posted.outcome, posted.matches) == ("removed", "dropped", [])
        args = ["audit", "--deployment", str(deployment), "--node", url, "--json"]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output  # the node's word alone is no discrepancy
        receipt = c.exchange.fill_order(c.sender(CAROL), ioc, E18 // 4)
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1, r.output
        out = json.loads(r.stdout)
        assert [
            (d["kind"], d["orderHash"], d["node"], d["txHash"]) for d in out["discrepancies"]
        ] == [("fill_after_node_closed", ioc.hash_hex, url, receipt.tx_hash)]
        r = CliRunner().invoke(main, args[:-1], env={"COLUMNS": "200"})
        assert r.exit_code == 1
        assert "fill_after_node_closed" in r.stdout and ioc.hash_hex in r.stdout
        assert "reported the order removed (dropped)" in r.stdout


class _Gate(BaseHTTPRequestHandler):
    """Forwards JSON-RPC POSTs to the devnet while the server's ``open`` event is set;
    answers 503 otherwise (the node's view of a chain endpoint gone down)."""

    server: _GateServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.server.open.is_set():
            self.send_error(503, "chain endpoint down")
            return
        r = requests.post(
            self.server.upstream, data=body, headers={"Content-Type": "application/json"},
            timeout=30,
        )  # fmt: skip
        content = r.content
        if (mangle := self.server.mangle) is not None:  # each call's answer, as it likes
            asked, answered = json.loads(body), r.json()
            if isinstance(asked, list):
                for q, a in zip(asked, answered, strict=True):
                    mangle(q["method"], a)
            else:
                mangle(asked["method"], answered)
            content = json.dumps(answered).encode()
        self.send_response(r.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *_: object) -> None:
        pass


class _GateServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Gate)
        self.upstream = upstream
        self.open = threading.Event()
        self.open.set()
        self.mangle: Callable[[str, dict[str, Any]], None] | None = None


@contextlib.contextmanager
def rpc_gate(upstream: str) -> Iterator[_GateServer]:
    gate = _GateServer(upstream)
    thread = threading.Thread(target=gate.serve_forever, daemon=True)
    thread.start()
    try:
        yield gate
    finally:
        gate.shutdown()
        gate.server_close()
        thread.join(10)


def test_a_node_whose_chain_endpoint_went_down_is_flagged_stalled(
    chain: Chain, tmp_path: Path
) -> None:
    """A node as ``sdex node`` configures it (served in this process, ``node_thread``: the
    audit is the subject; suite98) reads the chain through a gate; the gate closes, the
    chain goes on (blocks mined), the node's /health checkpoint stays behind: the audit
    flags its watcher. The gate opens again: the node catches up and the audit is clean."""
    c = chain
    deployment = tmp_path / "devnet.json"
    with rpc_gate(c.deployment.rpc) as gate:
        gated = replace(c.deployment, rpc=f"http://127.0.0.1:{gate.server_address[1]}")
        gated.save(deployment)
        with (
            node_thread(deployment, c.keys[17], tmp_path / "n.db") as (_, url),
            NodeClient(url, timeout=5.0) as client,
        ):

            def synced() -> bool:
                head = int(c.rpc.call("eth_blockNumber"), 16)
                try:
                    block = client.health().get("block")
                except (NodeUnreachableError, NodeApiError):
                    return False
                return isinstance(block, int) and block >= head

            asyncio.run(wait_for(synced, timeout=60))
            gate.open.clear()
            for _ in range(5):
                c.rpc.call("evm_mine")
            head = int(c.rpc.call("eth_blockNumber"), 16)
            report = audit_network(c.deployment, [url], sync_timeout=1.0)
            assert report.kinds() == {"node_watcher_stalled"}, report.to_json()
            (d,) = report.discrepancies
            assert d.node == url and f"behind the chain head {head}" in d.detail
            gate.open.set()
            assert audit_network(c.deployment, [url], sync_timeout=30.0).ok


# -- the command line ---------------------------------------------------------------------------


def _first_log(change: Callable[[dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    def mangle(method: str, answer: dict[str, Any]) -> None:
        if method == "eth_getLogs" and answer.get("result"):
            change(answer["result"][0])

    return mangle


def _result_of(method: str, value: Any) -> Callable[[str, dict[str, Any]], None]:
    def mangle(asked: str, answer: dict[str, Any]) -> None:
        if asked == method:
            answer["result"] = value

    return mangle


def _receipt_logs_null(method: str, answer: dict[str, Any]) -> None:
    if method == "eth_getTransactionReceipt" and answer.get("result"):
        answer["result"]["logs"] = None


UNREADABLE_CHAIN = [
    ("log-data-not-hex", _first_log(lambda log: log.update(data="0xzz"))),
    ("log-without-topics", _first_log(lambda log: log.pop("topics"))),
    ("logs-a-string", _result_of("eth_getLogs", "hello")),
    ("logs-of-numbers", _result_of("eth_getLogs", [5])),
    ("receipt-logs-null", _receipt_logs_null),
    ("block-without-time", _result_of("eth_getBlockByNumber", {"timestamp": None})),
    ("head-not-hex", _result_of("eth_blockNumber", "0xq")),
]


@pytest.mark.parametrize(
    "mangle", [m for _, m in UNREADABLE_CHAIN], ids=[i for i, _ in UNREADABLE_CHAIN]
)
def test_an_unreadable_chain_answer_cannot_audit(
    chain: Chain, tmp_path: Path, mangle: Callable[[str, dict[str, Any]], None]
) -> None:
    """A chain endpoint whose answers are not JSON-RPC's shapes: "cannot audit", exit 2 (the
    audit died with a traceback and exit 1, which reads as "discrepancies found", and
    ``--json`` printed no JSON)."""
    c = chain
    story = settle(c)
    deployment = tmp_path / "d.json"
    c.deployment.save(deployment)
    orders = write_orders(tmp_path / "o.json", [s.to_json() for s in story.orders])
    with rpc_gate(c.deployment.rpc) as gate:
        gate.mangle = mangle
        rpc = f"http://127.0.0.1:{gate.server_address[1]}"
        args = ["audit", "--deployment", str(deployment), "--rpc", rpc, "--orders", str(orders)]
        for extra in ([], ["--json"]):
            r = CliRunner().invoke(main, [*args, *extra])
            assert r.exit_code == 2, (r.output, r.exception)
            assert r.stdout == "" and r.stderr.startswith("cannot audit: the JSON-RPC endpoint")
            assert "unreadable answer" in r.stderr


def test_an_exchange_address_with_no_code_cannot_audit(chain: Chain, tmp_path: Path) -> None:
    """A deployment file whose Exchange is not on the chain (a devnet restarted without
    deploying, another chain with the same id): "cannot audit", exit 2, both ways (it died
    with eth_abi's traceback from decoding the empty answer of ``eip712Domain()``, exit 1,
    which reads as "discrepancies found")."""
    deployment = tmp_path / "d.json"
    replace(chain.deployment, exchange="0x" + "12" * 20).save(deployment)
    orders = write_orders(tmp_path / "o.json", [])
    for extra in ([], ["--json"]):
        args = ["audit", "--deployment", str(deployment), "--orders", str(orders), *extra]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, (r.output, r.exception)
        assert r.stdout == ""
        assert r.stderr == (
            f"cannot audit: no SDEX Exchange at 0x{'12' * 20} on {chain.deployment.rpc}: "
            "eip712Domain() answered nothing: no contract there?\n"
        )


def test_cli_exit_codes_and_json(chain: Chain, tmp_path: Path) -> None:
    c = chain
    story = settle(c)
    deployment = tmp_path / "d.json"
    c.deployment.save(deployment)
    good = write_orders(tmp_path / "good.json", [s.to_json() for s in story.orders])
    run: Callable[..., Any] = CliRunner().invoke

    r = run(main, ["audit", "--deployment", str(deployment), "--orders", str(good), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["ok"] is True and out["discrepancies"] == []
    assert out["checked"]["transfers"] == 3

    r = run(main, ["audit", "--deployment", str(deployment), "--orders", str(good)])
    assert r.exit_code == 0, r.output
    assert "clean" in r.stdout and "limit_price" in r.stdout

    # a file that leaves an order out: the fill's transaction's calldata holds it
    bad = [s.to_json() for s in story.orders if s is not story.taken]
    r = run(main, ["audit", "--deployment", str(deployment), "--orders",
                   str(write_orders(tmp_path / "bad.json", bad)), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    # a file whose copy of a filled order is forged: exit 1, that copy named
    forged = [*bad, sign_order(story.taken.order, c.domain, c.keys[BOB]).to_json()]
    r = run(main, ["audit", "--deployment", str(deployment), "--orders",
                   str(write_orders(tmp_path / "forged.json", forged)), "--json"])  # fmt: skip
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    assert out["ok"] is False
    assert [(d["kind"], d["orderHash"]) for d in out["discrepancies"]] == [
        ("bad_signature", story.taken.hash_hex)
    ]
    r = run(
        main, ["audit", "--deployment", str(deployment), "--orders", str(tmp_path / "forged.json")]
    )
    assert r.exit_code == 1
    assert "bad_signature" in r.stdout and story.taken.hash_hex in r.stdout

    # usage errors: no deployment file, an orders file that is not orders, a dead RPC
    r = run(main, ["audit", "--deployment", str(tmp_path / "nope.json")])
    assert r.exit_code == 2
    (tmp_path / "junk.json").write_text('{"not": "orders"}')
    r = run(
        main, ["audit", "--deployment", str(deployment), "--orders", str(tmp_path / "junk.json")]
    )
    assert r.exit_code == 2 and "--orders" in r.output
    dead = f"http://127.0.0.1:{free_port()}"
    r = run(main, ["audit", "--deployment", str(deployment), "--rpc", dead, "--orders", str(good)])
    assert r.exit_code == 2 and "cannot audit" in r.stderr
