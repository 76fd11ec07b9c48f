"""sdex.model: order statuses and their transition table, the one SRA error body, the shared
enums; the one verdict from chain state; and the node's status layer persisting and
publishing every transition (real SQLite, real book)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sdex import book, matching, model, settlement, wallet
from sdex.book import OrderBook, RemovalReason, Side
from sdex.chain import Exchange, Rpc
from sdex.chain import OrderState as ChainState
from sdex.chain import OrderStatus as ChainStatus
from sdex.deployment import TokenInfo
from sdex.errors import FieldCode
from sdex.fillmath import MatchAmounts
from sdex.gossip.client import ANSWER_ROOM
from sdex.httpkit import ApiError
from sdex.ingest import Rejection, judge, removal_of
from sdex.ingest.rejections import RejectionCode
from sdex.matching import Match
from sdex.mirror import Mirror
from sdex.model import (
    API_STATUSES,
    OPEN_STATUSES,
    FillEvent,
    OrderStatus,
    TransitionError,
    check_transition,
    closed_status,
    error_body,
    field_error_body,
    fill_from_json,
    fill_json,
)
from sdex.node.config import NodeConfig
from sdex.node.core import Node, Record
from sdex.node.events import Subscription
from sdex.node.registry import OrderRegistry
from sdex.order import SignedOrder
from sdex.settlement import diagnose
from sdex.store import ChainIdentity, Store, StoredFill
from tests.test_book import BASE, DOMAIN, QUOTE, A, B, ask, bid

S = OrderStatus
OPEN3 = {S.OPEN, S.PARTIALLY_FILLED, S.UNFUNDED}
SHOWN = {S.OPEN, S.PARTIALLY_FILLED, S.UNFUNDED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REMOVED}

# Written out, not derived from sdex.model.TRANSITIONS: from -> every status it may become.
ALLOWED = {
    S.NEW: SHOWN,
    S.OPEN: SHOWN - {S.OPEN},
    S.PARTIALLY_FILLED: SHOWN - {S.PARTIALLY_FILLED},
    S.UNFUNDED: SHOWN - {S.UNFUNDED},
    S.FILLED: {S.OPEN, S.CANCELLED, S.EXPIRED, S.REMOVED},  # a reorg or reset undid it
    S.CANCELLED: {S.OPEN, S.FILLED, S.EXPIRED, S.REMOVED},  # (removed: an IOC or FOK order,
    S.EXPIRED: {S.OPEN, S.FILLED, S.CANCELLED, S.REMOVED},  # which never rests, review20)
    S.REMOVED: {S.FILLED, S.CANCELLED, S.EXPIRED},  # the chain settled what was in flight
}


def _rest_all(node: Node, *orders: SignedOrder) -> list[Record]:
    """``orders`` stored, held and resting in the book (seq 1, 2, ...), then synced."""
    recs = []
    for seq, signed in enumerate(orders, 1):
        node.store.add_order(signed, seq, OrderStatus.OPEN, "api")
        rec = Record(signed, seq, "api", status=OrderStatus.NEW)
        node.registry.admit(rec)
        node.registry.rest(signed, 0)
        recs.append(rec)
    node.registry.sync()
    return recs


@pytest.mark.parametrize(("old", "new"), list(itertools.product(OrderStatus, OrderStatus)))
def test_transition_table(old: OrderStatus, new: OrderStatus) -> None:
    if old is new or new in ALLOWED[old]:
        assert check_transition(old, new) is new
        assert check_transition(old.value, new.value) is new  # the stored strings too
    else:
        with pytest.raises(TransitionError, match=f"{old.value} -> {new.value}"):
            check_transition(old, new)


def test_statuses_are_the_wire_strings() -> None:
    assert [s.value for s in API_STATUSES] == [
        "open", "partially_filled", "unfunded", "filled", "cancelled", "expired", "removed",
    ]  # fmt: skip
    assert set(OPEN_STATUSES) == OPEN3 and all(s.is_open for s in OPEN3)
    assert OrderStatus.FILLED == "filled" and f"{OrderStatus.UNFUNDED}" == "unfunded"
    with pytest.raises(ValueError):
        OrderStatus("self_trade")


@pytest.mark.parametrize(
    ("reason", "filled_all", "status"),
    [
        (RemovalReason.FILLED, False, S.FILLED),
        (RemovalReason.DUST, False, S.FILLED),  # nothing tradeable is left
        (RemovalReason.CANCELLED, False, S.CANCELLED),
        (RemovalReason.CANCELLED, True, S.FILLED),
        (RemovalReason.EXPIRED, False, S.EXPIRED),
        (RemovalReason.SELF_TRADE, False, S.REMOVED),
        (RemovalReason.UNMATCHED, False, S.REMOVED),
        (RemovalReason.INVALID, False, S.REMOVED),
        (RemovalReason.UNFUNDED, False, S.REMOVED),
        (RemovalReason.REMOVED, False, S.REMOVED),
    ],
)
def test_closed_status(reason: RemovalReason, filled_all: bool, status: OrderStatus) -> None:
    assert closed_status(reason.value, filled_all) is status


def test_one_error_body() -> None:
    one = {"field": "maker", "code": FieldCode.INVALID_ADDRESS, "reason": "bad"}
    # validationErrors is always there, empty when no field is at fault (PRODUCT.md's shape)
    assert error_body(103, "Throttled") == {
        "code": 103,
        "reason": "Throttled",
        "validationErrors": [],
    }
    assert field_error_body("maker", FieldCode.INVALID_ADDRESS, "bad") == {
        "code": 100,
        "reason": "Validation Failed",
        "validationErrors": [one],
    }
    assert ApiError.field("maker", FieldCode.INVALID_ADDRESS, "bad").body == field_error_body(
        "maker", FieldCode.INVALID_ADDRESS, "bad"
    )
    assert ApiError(429, 103, "Throttled").body == error_body(103, "Throttled")
    r = Rejection.of(RejectionCode.SELF_TRADE, "same maker").to_json()
    assert r["rejection"] == "SELF_TRADE"
    assert {k: v for k, v in r.items() if k != "rejection"} == field_error_body(
        RejectionCode.SELF_TRADE.field, RejectionCode.SELF_TRADE.field_code, "same maker"
    )


# ---- the order registry: every transition persisted and published -----------------------------


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    """A node's registry, store, book and event hub, as ``Node.start`` builds them (no chain:
    only the registry is driven here)."""
    token = TokenInfo(address=BASE, decimals=18)
    config = NodeConfig(
        rpc="http://127.0.0.1:1",
        chain_id=DOMAIN.chain_id,
        exchange=DOMAIN.verifying_contract,
        deploy_block=0,
        tokens={"B": token, "Q": TokenInfo(address=QUOTE, decimals=18)},
        key=bytes(31) + b"\x01",
        db=tmp_path / "n.db",
    )
    n = Node(config)
    identity = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "11" * 32)
    n.store = Store(config.db, identity, DOMAIN)
    n.book = OrderBook([(BASE, QUOTE)])
    n.registry.attach(n.store, n.book)
    exchange = Exchange(Rpc(config.rpc), config.exchange)  # (never called: no chain here)
    n.mirror = Mirror(exchange, [BASE, QUOTE])
    yield n
    n.store.close()


def _drain(sub: Subscription) -> list[tuple[str, str]]:
    out = []
    while not sub.queue.empty():
        item = sub.queue.get_nowait()
        assert item is not None
        e = item.event
        assert item.text() == json.dumps(e)  # the websocket's text: json.dumps's, encoded once
        out.append((e["event"], e["metaData"]["status"]))
    return out


def _held(node: Node, status: OrderStatus, **kw: object) -> Record:
    """An order the registry holds with ``status``, its row stored so (reason ``before``);
    ``kw``: the order's fields (``ask``'s)."""
    signed = ask(A, 10, 100, **kw)
    node.store.add_order(signed, 1, OrderStatus.OPEN, "api")
    node.store.update_orders([(signed.hash_hex, status, 0, "before")])
    rec = Record(signed, 1, "api", status=OrderStatus.NEW, reason="before")
    node.registry.admit(rec, status)
    return rec


def assert_open_counts(reg: OrderRegistry, status: OrderStatus) -> None:
    """The maker's open orders count its one order while it is open; the total (the
    tradable bound's) only while it can trade: ``unfunded`` has a bound of its own (dust27)."""
    assert reg.open_count(A) == (1 if status.is_open else 0)
    assert reg.open_count(None) == (
        1 if status.is_open and status is not OrderStatus.UNFUNDED else 0
    )


@pytest.mark.parametrize(("old", "new"), list(itertools.product(API_STATUSES, OrderStatus)))
async def test_registry_transition_table(node: Node, old: OrderStatus, new: OrderStatus) -> None:
    """Every (held status, new status): an allowed change is stored and published, and the
    open counts follow; a forbidden one raises and changes nothing anywhere."""
    reg = node.registry
    rec = _held(node, old)
    assert_open_counts(reg, old)
    sub = node.events.subscribe()
    if old is new or new in ALLOWED[old]:
        reg.transition(rec, new, "why", filled=3)
        after, reason, filled = new, "why", 3
        assert _drain(sub) == [(new.value, new.value)]
    else:
        with pytest.raises(TransitionError, match=f"{old.value} -> {new.value}"):
            reg.transition(rec, new, "why", filled=3)
        after, reason, filled = old, "before", 0
        assert _drain(sub) == []
    stored = node.store.order(rec.signed.hash_hex)
    assert stored is not None
    assert (stored.status, stored.reason, stored.filled) == (after, reason, filled)
    assert (rec.status, rec.reason, rec.filled) == (after, reason, filled)
    assert_open_counts(reg, after)


async def test_book_moves_are_synced_persisted_and_published(node: Node) -> None:
    """Transitions the book makes (fills, funds) reach the store and the websocket at
    ``sync``, through the registry's own book changes: no order is marked by hand."""
    reg = node.registry
    signed = ask(A, 10, 100)
    h = signed.hash
    reg.set_funds(A, BASE, 10)
    rec = Record(signed, 1, "api", status=OrderStatus.NEW)
    node.store.add_order(signed, 1, OrderStatus.OPEN, "api")
    reg.admit(rec)
    reg.rest(signed, 0)
    sub = node.events.subscribe()

    def synced(action: Callable[[], None]) -> Callable[[], None]:
        return lambda: (action(), reg.sync())[1]

    steps: list[tuple[str, Callable[[], None], OrderStatus, int]] = [
        ("a fill elsewhere", synced(lambda: reg.set_filled(h, 4)), S.PARTIALLY_FILLED, 4),
        ("funds gone", synced(lambda: reg.set_funds(A, BASE, 0)), S.UNFUNDED, 4),
        ("funds back", synced(lambda: reg.set_funds(A, BASE, 10)), S.PARTIALLY_FILLED, 4),
        ("another fill", synced(lambda: reg.set_filled(h, 5)), S.PARTIALLY_FILLED, 5),
        (
            "cancelled on chain",
            lambda: reg.remove(h, RemovalReason.CANCELLED, "cancelled on chain"),
            S.CANCELLED,
            5,
        ),
    ]
    last = S.OPEN
    for what, action, status, filled in steps:
        action()
        stored = node.store.order(signed.hash_hex)
        assert stored is not None and (stored.status, stored.filled) == (status, filled), what
        assert (rec.status, rec.filled) == (status, filled), what
        # published once per status change (a fill that keeps the status is only stored)
        assert _drain(sub) == ([(status.value, status.value)] if status != last else []), what
        assert reg.maker_open.get(A, 0) == (1 if status.is_open else 0), what
        last = status
    # A change the table forbids is refused and changes nothing: not stored, not published.
    with pytest.raises(TransitionError):
        reg.transition(rec, OrderStatus.UNFUNDED, "no")
    # This node's policy never closes a closed order again (the chain's close stands).
    reg.close(rec, OrderStatus.REMOVED, "settlement kept failing")
    stored = node.store.order(signed.hash_hex)
    assert stored is not None and stored.status == "cancelled" and rec.status is S.CANCELLED
    assert _drain(sub) == []
    reg.sync()  # nothing touched since: nothing written or published
    assert _drain(sub) == []


async def test_funds_a_close_frees_reopen_the_makers_unfunded_orders(node: Node) -> None:
    """The book gives a closed order's funds to its maker's other orders: the registry
    looks again at those it holds ``unfunded``, stores and publishes them ``open``."""
    reg = node.registry
    first, second = ask(A, 10, 100), ask(A, 10, 101)
    reg.set_funds(A, BASE, 10)  # enough for one of them
    recs = _rest_all(node, first, second)
    assert [r.status for r in recs] == [S.OPEN, S.UNFUNDED]
    sub = node.events.subscribe()
    reg.remove(first.hash, RemovalReason.CANCELLED, "cancelled on chain")
    assert _drain(sub) == [("cancelled", "cancelled")]
    reg.sync()  # nothing named the second order: the close did
    assert _drain(sub) == [("open", "open")]
    stored = node.store.order(second.hash_hex)
    assert stored is not None and stored.status == "open" and recs[1].status is S.OPEN


async def test_registry_indexes(node: Node) -> None:
    reg = node.registry
    rec = _held(node, S.OPEN)
    assert reg.get(rec.signed.hash) is rec and reg.at(rec.signed.hash_hex) is rec
    assert reg.at("0xzz") is None and reg.at("0x" + "00" * 32) is None
    assert reg.by_signature(rec.json["signature"]) is rec
    assert reg.holds_account((A, BASE)) and not reg.holds_account((A, QUOTE))
    assert list(reg.open_records()) == [rec] and list(reg.gossiped_records()) == []
    assert _walked_digest(reg) == reg.digest() == ["0"] * 256
    reg.announce(rec)
    assert list(reg.gossiped_records()) == [rec]
    h = rec.signed.hash
    assert _walked_digest(reg) == reg.digest()
    assert reg.digest()[h[0]] == f"{int.from_bytes(h, 'big'):x}"
    assert reg.hashes_in({h[0], 256, -1}) == [rec.signed.hash_hex]  # out of range: nothing
    reg.transition(rec, S.UNFUNDED, "funds")  # still open: still offered to peers
    assert reg.hashes_in({h[0]}) == [rec.signed.hash_hex]
    reg.transition(rec, S.EXPIRED, "expired")
    assert list(reg.open_records()) == [] and reg.open_count(None) == 0
    assert _walked_digest(reg) == reg.digest() == ["0"] * 256 and reg.hashes_in({h[0]}) == []


def _walked_digest(reg: OrderRegistry) -> list[str]:
    """The anti-entropy digest computed the slow way: a walk over the gossiped records."""
    acc = [0] * 256
    for r in reg.gossiped_records():
        acc[r.signed.hash[0]] ^= int.from_bytes(r.signed.hash, "big")
    return [f"{x:x}" for x in acc]


# ---- one verdict from chain state ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "signature_valid", "funds", "removal"),
    [
        (ChainStatus.FILLABLE, True, 5, None),
        (ChainStatus.FILLABLE, True, 0, None),  # unfunded: it waits for funds
        (ChainStatus.FILLED, True, 5, RemovalReason.FILLED),
        (ChainStatus.CANCELLED, True, 5, RemovalReason.CANCELLED),
        (ChainStatus.EXPIRED, True, 5, RemovalReason.EXPIRED),
        (ChainStatus.INVALID, True, 5, RemovalReason.INVALID),
        (ChainStatus.FILLABLE, False, 5, RemovalReason.INVALID),
        (ChainStatus.FILLED, False, 5, RemovalReason.INVALID),  # the signature is judged first
    ],
)
def test_one_verdict_from_chain_state(
    status: ChainStatus, signature_valid: bool, funds: int, removal: RemovalReason | None
) -> None:
    """Intake, the node's chain-state handling and the settler's diagnosis all read this."""
    signed = ask(A, 10, 100)
    state = ChainState(signed.hash, status, 0, signature_valid, funds, funds)
    assert removal_of(judge(signed, state)) is removal
    m = Match(signed, ask(A, 10, 100), MatchAmounts(1, 10, 0, 0), Side.BID)
    assert diagnose(m, state, state)[0].remove is removal


def test_shared_enums_are_defined_once() -> None:
    assert book.Side is model.Side and book.RemovalReason is model.RemovalReason
    assert wallet.Side is model.WalletSide
    assert matching.Outcome is model.MatchOutcome
    assert settlement.Outcome is model.SettleOutcome
    assert [s.value for s in model.WalletSide] == ["buy", "sell"]
    assert [s.value for s in model.Side] == ["bid", "ask"]


def test_one_fill_shape_round_trips_through_the_api_and_the_store(tmp_path: Path) -> None:
    fill = FillEvent(
        order_hash=bytes(range(32)),
        maker=A,
        taker="0x" + "0b" * 20,
        maker_filled=10,
        taker_filled=2**200,
        fee_recipient="0x" + "fe" * 20,
        fee=3,
        block_number=7,
        tx_hash="0x" + "ee" * 32,
        log_index=2,
    )
    record = fill_json(fill, ours=True)
    assert record["orderHash"] == "0x" + bytes(range(32)).hex()
    assert record["takerAmountFilled"] == str(2**200) and record["settledByThisNode"] is True
    assert fill_from_json(record) == fill
    identity = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "11" * 32)
    store = Store(tmp_path / "f.db", identity, DOMAIN)
    try:
        stored = StoredFill.of(fill, ours=True)
        assert dataclasses.asdict(stored) == {**dataclasses.asdict(fill), "ours": True}
        assert store.add_fills([stored, stored]) == [stored]  # stored once
        total, back = store.fills()
        assert total == 1 and back == [stored] and back[0].to_json() == record
    finally:
        store.close()
    for broken in ({**record, "logIndex": "first"}, {**record, "orderHash": "0x12"}, [record]):
        with pytest.raises((KeyError, TypeError, ValueError)):
            fill_from_json(broken)


async def test_a_settlement_of_other_amounts_than_proposed_syncs_the_makers_orders(
    node: Node,
) -> None:
    """A match the chain settled with other amounts than proposed: the registry hears of
    them (``settled(m, actual)``) and syncs every order of the makers' accounts with the
    book (status and filled amount stored as the book has them)."""
    reg = node.registry
    first, second = ask(A, 20, 200), ask(A, 10, 101)
    reg.set_funds(A, BASE, 30)
    recs = _rest_all(node, first, second)
    assert [r.status for r in recs] == [S.OPEN, S.OPEN]
    reg.set_funds(B, QUOTE, 10**6)
    taker = bid(B, 10, 100)
    engine = matching.MatchingEngine(node.book)
    mr = engine.submit(taker, now=1)
    (m,) = mr.matches
    assert m.resting.hash == first.hash and m.amounts.left_filled == 10
    reg.matched(mr)
    reg.sync()
    actual = MatchAmounts(15, m.amounts.right_filled, m.amounts.left_fee, m.amounts.right_fee)
    reg.settled(m, actual)
    engine.confirm(m, actual)  # A paid 15 of its 30: 15 left for first's 5 and second's 10
    reg.sync()
    st = node.book.get(second.hash)
    assert st is not None
    assert recs[1].status is st.status
    stored = node.store.order(second.hash_hex)
    assert stored is not None and stored.status == st.status
    stored = node.store.order(first.hash_hex)
    assert stored is not None and (stored.status, stored.filled) == (S.PARTIALLY_FILLED, 15)
    assert (recs[0].status, recs[0].filled) == (S.PARTIALLY_FILLED, 15)


async def test_an_event_is_encoded_once_for_every_subscriber(node: Node) -> None:
    """Each subscriber's queue holds the same published event; its JSON text (what the
    websocket sends) is made once, is ``json.dumps`` of the event, and ``get`` still gives
    the event itself."""
    reg = node.registry
    rec = _held(node, OrderStatus.OPEN)
    first, second = node.events.subscribe(), node.events.subscribe()
    reg.transition(rec, OrderStatus.CANCELLED, "why")
    text = await first.get_text()
    assert text is not None and json.loads(text)["event"] == "cancelled"
    item = second.queue.get_nowait()
    assert item is not None and item.text() is text  # the same text, not encoded again
    assert json.dumps(item.event) == text
    node.events.publish({"type": "fill", "x": "1"})
    event = await second.get()
    assert event == {"seq": item.event["seq"] + 1, "type": "fill", "x": "1"}
    assert rec.json_text is not None and json.loads(rec.json_text) == rec.signed.to_json()


async def test_snapshot_pages_are_ranges_of_the_gossiped_orders_by_seq(node: Node) -> None:
    """A peer's snapshot page (``gossiped_after``, ``snapshot_page``) is the gossiped orders
    (announced and open) with ``seq`` above the cursor, oldest first: the same as sorting
    every gossiped record, as the page did before, through announces, closes and status
    changes that keep an order open; the pages walk each gossiped order once."""
    reg, rng = node.registry, random.Random(11)
    seqs = rng.sample(range(1, 10_000), 80)  # (arrival order not the dict's)
    recs = []
    for seq in seqs:
        rec = Record(ask(A, 10, 100), seq, "api", status=OrderStatus.NEW)
        reg.admit(rec, S.OPEN)
        recs.append(rec)

    def slow(after: int, limit: int) -> list[Record]:
        return sorted((r for r in reg.gossiped_records() if r.seq > after), key=lambda r: r.seq)[
            :limit
        ]

    for step in range(300):
        rec = rng.choice(recs)
        op = rng.randrange(4)
        if op == 0:
            reg.announce(rec)
        elif op == 1 and rec.status is S.OPEN:
            reg.transition(rec, S.UNFUNDED, "funds")  # still open: still offered
        elif op == 2 and rec.status is S.UNFUNDED:
            reg.transition(rec, S.OPEN, "funds back")
        elif op == 3 and rec.status.is_open and rng.random() < 0.3:
            reg.transition(rec, S.EXPIRED, "expired")  # closed: no longer offered
        if step % 25 == 0:
            for after, limit in [(0, 1000), (rng.randrange(10_000), rng.randrange(1, 9)), (-1, 0)]:
                assert reg.gossiped_after(after, limit) == slow(after, limit)
    walked, after = [], 0
    for _ in range(100):  # (bounded: 80 orders, 7 a page)
        page, after = node.snapshot_page(after, 7, ANSWER_ROOM)
        if not page:
            break
        walked.extend(o["signature"] for o in page)
    assert walked == [r.json["signature"] for r in slow(0, 1000)] and len(walked) > 0
