"""Bounded memory: closed orders leave memory once stored, and every path that reads an order
still finds them (the registry on real SQLite; then a real node on Hardhat, over HTTP)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from sdex.book import RemovalReason
from sdex.chain import OrderState as ChainState
from sdex.chain import OrderStatus as ChainStatus
from sdex.hashfilter import HashFilter
from sdex.ingest import Accepted
from sdex.model import OrderStatus
from sdex.node.core import Node, Record
from sdex.node.held import AlreadyHeld
from sdex.node.rejudge import POLICY_REASONS
from sdex.order import SignedOrder, sign_hash
from sdex.store import ChainIdentity, Store
from sdex.storeread import orders_after_sql
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_book import BASE, DOMAIN, A
from tests.test_book import ask as book_ask
from tests.test_mirror import Events, revert, synced
from tests.test_model import _held, node  # noqa: F401  (``node``: the registry's fixture)
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask

S = OrderStatus


# ---- the registry, on real SQLite ---------------------------------------------------------


@pytest.mark.parametrize("status", [S.FILLED, S.CANCELLED, S.EXPIRED, S.REMOVED])
async def test_a_closed_order_leaves_memory_and_is_read_back_from_the_store(
    node: Node,  # noqa: F811
    status: OrderStatus,
) -> None:
    reg = node.registry
    reg.grace = 0
    rec = _held(node, S.OPEN)
    h, sig = rec.signed.hash, rec.json["signature"]
    reg.transition(rec, status, "why", filled=3)
    assert await reg.evict() == 1
    assert reg.get(h) is None and reg.by_signature(sig) is None
    assert not reg.holds_account((A, BASE)) and reg.open_count(None) == 0
    assert reg.held(h) and reg.lookups == 1 and reg.total == 1
    body = reg.json_of(h)
    assert body is not None and body["order"] == rec.json
    meta = body["metaData"]
    assert isinstance(meta, dict)
    assert (meta["status"], meta["filledMakerAmount"], meta["reason"]) == (status, "3", "why")
    back = reg.load(h)  # back in memory as it was stored, until evicted again
    assert back is not None and (back.status, back.filled, back.reason) == (status, 3, "why")
    assert reg.get(h) is back and reg.by_signature(sig) is back
    assert await reg.evict() == 1 and reg.get(h) is None and reg.total == 1
    never = bytes(32)
    assert not reg.held(never) and reg.stored(never) is None and reg.json_of(never) is None


@pytest.mark.parametrize(
    "hold", ["open", "within_grace", "in_book", "write_not_stored", "reopened"]
)
async def test_a_record_stays_while_something_needs_it(node: Node, hold: str) -> None:  # noqa: F811
    """Evicted only once closed, past the grace period, out of the book (no fills in
    flight) and with its last change committed; then it goes."""
    reg = node.registry
    reg.grace = 0
    rec = _held(node, S.OPEN)
    h = rec.signed.hash
    if hold == "open":
        assert await reg.evict() == 0 and reg.get(h) is rec
        reg.transition(rec, S.CANCELLED, "gone")
    elif hold == "within_grace":
        reg.grace = 60
        reg.transition(rec, S.CANCELLED, "gone")
        assert await reg.evict() == 0 and reg.get(h) is rec
        assert await reg.evict(time.monotonic() + 61) == 1
        return
    elif hold == "in_book":
        reg.set_funds(A, BASE, 10)
        reg.rest(rec.signed, 0)
        reg.transition(rec, S.CANCELLED, "gone")  # (the book still holds it)
        assert await reg.evict() == 0 and reg.get(h) is rec
        node.book.remove(h, RemovalReason.CANCELLED)
        assert h not in node.book
    elif hold == "write_not_stored":
        reg.defer_writes()
        reg.transition(rec, S.CANCELLED, "gone")  # its row not even queued yet
        assert await reg.evict() == 0 and reg.get(h) is rec
        reg.write_deferred()  # queued: the eviction's read comes after it
    elif hold == "reopened":
        reg.transition(rec, S.FILLED, "filled")
        reg.transition(rec, S.OPEN, "reopened: reorg")
        assert await reg.evict() == 0 and reg.get(h) is rec
        reg.transition(rec, S.FILLED, "filled")
    assert await reg.evict() == 1 and reg.get(h) is None and reg.held(h)


async def test_many_closed_orders_keep_the_registry_bounded(node: Node) -> None:  # noqa: F811
    """2,000 orders accepted then closed: memory holds the open ones only, the store all."""
    reg = node.registry
    reg.grace = 0
    signed: list[SignedOrder] = []
    for i in range(2_000):
        so = book_ask(A, 10, 100)
        node.store.add_order(so, i + 1, S.OPEN, "api")
        rec = Record(so, i + 1, "api", status=S.NEW)
        reg.admit(rec)
        signed.append(so)
        if i % 10:  # one in ten stays open
            reg.transition(rec, S.CANCELLED, "gone")
        if i % 500 == 499:
            await reg.evict()
            assert len(reg.records) == reg.open_count(None) == (i + 1) // 10
    await reg.evict()
    assert len(reg.records) == 200 == reg.open_count(None) and reg.total == 2_000
    assert len(reg._by_account[(A, BASE)]) == 200 and len(reg._closing) == 0
    assert all(reg.held(so.hash) for so in signed)


async def test_an_evicted_order_is_not_accepted_again_after_a_slow_chain_read(
    node: Node,  # noqa: F811
) -> None:
    """A copy of an order whose chain read outlasted the order's acceptance by a faster path,
    its cancel and its eviction: known (wallet and peer paths), never booked open again."""
    reg = node.registry
    reg.grace = 0
    rec = _held(node, S.OPEN)
    so, h = rec.signed, rec.signed.hash
    reg.transition(rec, S.CANCELLED, "soft cancel by the maker")
    assert await reg.evict() == 1 and reg.get(h) is None and reg.total == 1
    state = ChainState(h, ChainStatus.FILLABLE, 0, True, 10**30, 10**30)
    late = Accepted(so, state)  # what the slow read answers now
    assert node._from_peer(late, "peer", so.to_json(), 0) == "known"

    async def slow_read(
        obj: object,
        check_fee: bool = True,
        spend: object = None,
        handing: object = None,
        fronted: object = None,
        hold: object = None,
        arrived: object = None,  # (users83: the POST's arrival)
    ) -> Accepted:
        return late

    node.intake = SimpleNamespace(submit=slow_read, over_limit=lambda o: None)  # type: ignore[assignment]
    answer = await node.submit(so.to_json())
    assert answer.status == 200
    with pytest.raises(AlreadyHeld):
        reg.admit(Record(so, 2, "api", status=S.NEW))
    assert reg.get(h) is None and reg.total == 1 and reg.open_count(None) == 0
    assert h not in node.book
    stored = node.store.order(so.hash_hex)
    assert stored is not None and stored.status == S.CANCELLED


async def test_a_makers_walk_follows_its_maker_seq_index(node: Node) -> None:  # noqa: F811
    """The cancel-up-to walk reads one maker's page from the (maker, seq) index (no scan
    and sort of all the maker's rows per page), also in a database made before the index,
    off the event loop, policy closes filtered out by SQL."""
    store = node.store

    def on_writer(sql: str, args: list[object]) -> list[tuple[object, ...]]:
        return store._writer.submit(lambda db: db.execute(sql, args).fetchall()).result()

    on_writer("DROP INDEX orders_maker_seq", [])  # a database from before the index
    store.close()
    identity = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "11" * 32)
    store = node.store = Store(node.config.db, identity, DOMAIN)  # opened again: migrated
    closed = ["cancelled", "filled"]
    sql, args = orders_after_sql(closed, A, 0, 500, POLICY_REASONS)
    plan = " ".join(str(r[-1]) for r in on_writer("EXPLAIN QUERY PLAN " + sql, args))
    assert "orders_maker_seq" in plan and "TEMP B-TREE" not in plan, plan
    signed = [book_ask(A, 10, 100) for _ in range(5)]
    for i, so in enumerate(signed):
        store.add_order(so, i + 1, S.OPEN, "api")
        why = "soft cancel by the maker" if i == 2 else "cancelled on chain"
        store.update_orders([(so.hash_hex, S.CANCELLED, 0, why)])
    walk = store.orders_after(closed, A, 1, 2, POLICY_REASONS)
    assert asyncio.iscoroutine(walk)  # awaited: the loop runs while the writer reads
    page, last = await walk
    assert ([s.seq for s in page], last) == ([2, 4], 4)
    page, last = await store.orders_after(closed, A, 4, 2, POLICY_REASONS)
    assert ([s.seq for s in page], last) == ([5], 5)


async def test_a_record_pinned_across_awaits_stays_and_unload_spares_a_reloaded_one(
    node: Node,  # noqa: F811
) -> None:
    """A record a block's rejudge loaded stays in memory while the block awaits (pinned);
    unloading a record evicted meanwhile, or reloaded since as another record, leaves
    every index right; a rejudge finds an order evicted since it was listed."""
    reg = node.registry
    reg.grace = 0
    # (not expired by the wall clock, which no reorg undoes: review63)
    rec = _held(node, S.OPEN, expiry=int(time.time()) + 3600)
    h, sig = rec.signed.hash, rec.json["signature"]
    reg.transition(rec, S.FILLED, "filled", filled=10)
    reg.pin([h])
    assert await reg.evict() == 0 and reg.get(h) is rec
    reg.unpin([h])
    assert await reg.evict() == 1 and reg.get(h) is None
    reg.unload(rec)  # evicted already: nothing to do (it raised KeyError)
    back = reg.load(h)
    assert back is not None and back is not rec
    reg.unload(rec)  # the old record: the new one stays, with its signature index
    assert reg.get(h) is back and reg.by_signature(sig) is back and reg.total == 1
    reg.unload(back)
    assert reg.get(h) is None and reg.total == 1
    # the chain holds it fillable again (a reorg undid its fill): reopened from the store
    reg.set_funds(A, BASE, 10**30)
    node._rejudge(rec.signed, ChainState(h, ChainStatus.FILLABLE, 0, True, 10**30, 10**30))
    again = reg.get(h)
    assert again is not None and again.status == S.OPEN and h in node.book
    assert again.announced and reg.hashes_in({h[0]}) == [rec.signed.hash_hex]  # offered


@pytest.mark.parametrize("evicted", [False, True])
async def test_a_reorg_leaves_closed_an_order_its_maker_soft_cancelled_since(
    node: Node,  # noqa: F811
    evicted: bool,
) -> None:
    """An order the chain filled, then soft-cancelled by its maker (the signature kept to
    prove it), is not reopened when a reorg undoes the fill: the maker said no more; it is
    ``cancelled`` with the chain's filled amount (chaos60, ``_cancel_stands``), and a reset's
    walk reads it too when evicted (chaos61: skipped by the walk's SQL, it stayed ``filled``
    in full on a restarted node, the chain FILLABLE at 0)."""
    reg = node.registry
    reg.grace = 0
    rec = _held(node, S.OPEN)
    h = rec.signed.hash
    reg.transition(rec, S.FILLED, "filled", filled=10)
    rec.cancel_signature = b"\x01" * 65
    node.store.set_cancel_signature(rec.signed.hash_hex, rec.cancel_signature)
    if evicted:
        assert await reg.evict() == 1 and reg.get(h) is None
    reg.set_funds(A, BASE, 10**30)
    node._rejudge(rec.signed, ChainState(h, ChainStatus.FILLABLE, 0, True, 10**30, 10**30))
    again = reg.get(h)
    assert again is not None and h not in node.book
    assert (again.status, again.filled) == (S.CANCELLED, 0)
    reg.transition(again, S.FILLED, "filled", filled=10)  # (filled again: a walk reads it)
    closed = ["cancelled", "filled"]
    page, _ = await node.store.orders_after(closed, A, 0, 10, POLICY_REASONS)
    assert [s.signed.hash for s in page] == [h]


async def test_cancel_proofs_of_evicted_orders_are_one_query_of_signatures(
    node: Node,  # noqa: F811
) -> None:
    """A peer's ``why`` list (up to 5,000 hashes): the evicted orders' cancel signatures
    come from one awaited read of that column, no order parsed (here a row whose JSON no
    longer parses still proves its cancel); orders without one, unknown or malformed
    hashes give nothing."""
    reg = node.registry
    reg.grace = 0
    recs = []
    for i in range(3):
        so = book_ask(A, 10, 100)
        node.store.add_order(so, i + 1, S.OPEN, "api")
        recs.append(Record(so, i + 1, "api", status=S.NEW))
        reg.admit(recs[-1])
    sigs = [bytes([i + 1]) * 65 for i in range(2)]
    for rec, sig in zip(recs, sigs, strict=False):
        rec.cancel_signature = sig
        node.store.set_cancel_signature(rec.signed.hash_hex, sig)
    for rec in recs:
        reg.transition(rec, S.CANCELLED, "soft cancel by the maker")
    assert await reg.evict() == 3
    spoilt = recs[0].signed.hash_hex
    node.store._writer.submit(
        lambda db: db.execute("UPDATE orders SET order_json='{' WHERE hash=?", (spoilt,))
    ).result()
    asked = [r.signed.hash_hex for r in recs] + ["0x" + "ab" * 32, "0xnothex", "12"]
    proofs = node.cancel_proofs(asked * 2)
    assert asyncio.iscoroutine(proofs)
    want = [
        {"orderHash": r.signed.hash_hex, "signature": "0x" + s.hex()}
        for r, s in zip(recs, sigs, strict=False)
    ]
    assert await proofs == want * 2


async def test_the_filter_is_sized_for_the_store_and_grows_from_it(node: Node) -> None:  # noqa: F811
    """At start the filter holds twice the closed orders stored; past its capacity it is
    rebuilt twice as large from the store's closed rows (none forgotten), so "maybe" stays
    rare however many orders close."""
    reg = node.registry
    reg.forget_stored(3_000_000, [])
    assert reg.evicted.capacity == 6_000_000 and reg.evicted.size >= 6_000_000
    reg.forget_stored(0, [])
    reg.evicted = HashFilter(capacity=100)  # (a small one: it fills after 100 evictions)
    reg.grace = 0
    signed = []
    for i in range(300):
        so = book_ask(A, 10, 100)
        rec = Record(so, i + 1, "api", status=S.NEW)
        reg.admit(rec)  # (before its row: a full filter's "maybe" reads the store)
        node.store.add_order(so, i + 1, S.OPEN, "api")
        reg.transition(rec, S.CANCELLED, "gone")
        signed.append(so)
        if i % 50 == 49:
            await reg.evict()
    assert reg.evicted.capacity >= 2 * 250 and reg.evicted.count == 300
    assert all(so.hash in reg.evicted and reg.held(so.hash) for so in signed)
    reg.lookups = 0
    assert sum(reg.held(os.urandom(32)) for _ in range(5_000)) == 0
    assert reg.lookups < 5_000 * 0.02  # (a full filter of 100 said "maybe" to nearly all)


async def test_an_invalid_cancel_of_an_evicted_order_leaves_it_on_disk(
    node: Node,  # noqa: F811
) -> None:
    """A soft cancel is checked against the stored order before anything is loaded: a
    forged one (or one repeated) leaves an evicted order out of memory."""
    reg = node.registry
    reg.grace = 0
    rec = _held(node, S.OPEN)
    h = rec.signed.hash
    reg.transition(rec, S.FILLED, "filled", filled=10)
    assert await reg.evict() == 1
    node.domain = DOMAIN  # (as ``Node.start`` sets it)
    forged = sign_hash(DOMAIN.cancel_digest(h), b"\x07" * 32)
    for sig in (forged, b"\x00" * 65):
        assert node.soft_cancel(h, sig).status == 400
        assert reg.get(h) is None and reg.total == 1
    assert node.soft_cancel(bytes(32), forged).status == 202  # (kept for it: cancel65)
    assert reg.total == 1


@pytest.mark.parametrize("lost", ["update", "insert"])
async def test_a_record_whose_row_write_failed_is_written_again(
    node: Node,  # noqa: F811
    lost: str,
) -> None:
    """A closed record whose stored row differs from it (its write failed) is written
    again by the eviction that finds it so, then evicted: it does not stay forever."""
    reg = node.registry
    reg.grace = 0
    rec = _held(node, S.OPEN)
    reg.transition(rec, S.CANCELLED, "gone")
    hx = rec.signed.hash_hex
    sql, args = (
        ("UPDATE orders SET status='open', reason='' WHERE hash=?", (hx,))
        if lost == "update"
        else ("DELETE FROM orders WHERE hash=?", (hx,))
    )
    node.store._writer.submit(lambda db: db.execute(sql, args)).result()  # (as if lost)
    assert await reg.evict() == 0 and reg.get(rec.signed.hash) is rec
    assert await reg.evict() == 1 and reg.get(rec.signed.hash) is None
    stored = node.store.order(hx)
    assert stored is not None and (stored.status, stored.reason) == (S.CANCELLED, "gone")


def test_the_filter_never_forgets_a_hash_and_rarely_says_maybe() -> None:
    f = HashFilter(capacity=10_000)
    added = [os.urandom(32) for _ in range(10_000)]
    for h in added:
        f.add(h)
    # (a hash whose bits were all set already adds no load and is not counted: ~0.2% here)
    assert all(h in f for h in added) and 9_900 <= f.count <= 10_000
    n = f.count
    for h in added[:500]:  # read back from the store and evicted again: no load added
        f.add(h)
    assert f.count == n
    maybes = sum(os.urandom(32) in f for _ in range(20_000))
    assert maybes < 20_000 * 0.01  # sized for 1% at capacity


# ---- a real nd over HTTP -----------------------------------------------------------------


def _cancel_sig(c: Chain, s: SignedOrder, maker: int) -> str:
    return "0x" + sign_hash(c.domain.cancel_digest(s.hash), c.keys[maker]).hex()


async def _evicted(nd: Node, *orders: SignedOrder) -> None:
    await wait_for(lambda: all(s.hash not in nd.records for s in orders), timeout=20)


async def _read_back(nd: Node, api: Api, s: SignedOrder, status: str) -> None:
    """Every read of an order finds an evicted one: by hash, in lists, on the web page, as
    a repost (200, not accepted again), as a peer's copy, in gossip's ``knows``."""
    assert s.hash not in nd.records
    code, rec = await api.get(f"/v1/orders/{s.hash_hex}")
    assert code == 200 and rec["metaData"]["status"] == status, rec
    assert rec["order"] == s.to_json()
    _, page = await api.get("/v1/orders", maker=s.order.maker, status=status)
    assert s.hash_hex in {r["metaData"]["orderHash"] for r in page["records"]}
    _, web = await api.get("/web/orders", hash=s.hash_hex)
    assert list(web) == [s.hash_hex], web
    assert web[s.hash_hex]["order"] == s.to_json()
    assert web[s.hash_hex]["metaData"]["status"] == status
    code, body = await api.post_order(s)
    assert code == 200 and body["metaData"]["status"] == status, body
    assert await nd.submit_from_peer(s.to_json(), "peer-x") == "known"
    assert nd.knows(s.hash_hex)
    assert s.hash not in nd.records  # none of these brought it back into memory


async def test_closed_orders_are_evicted_and_every_path_reads_them(
    chain: Chain, tmp_path: Path
) -> None:
    """Cancelled (soft), removed (IOC with nothing to match), filled on chain: each leaves
    memory and is still served; a restart loads only the open orders; a cancel of an
    evicted order answers from the store and its proof is still shown to peers."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", closed_grace=0.2)
    cancelled = c.sign(ask(c, ALICE, E18, 3100 * E6))
    ioc = c.sign(ask(c, CAROL, E18, 3200 * E6))
    filled = c.sign(ask(c, ALICE, E18, 3000 * E6))
    stays = c.sign(ask(c, CAROL, E18, 3300 * E6))
    async with running_node(cfg) as (nd, api):
        for s in (cancelled, filled, stays):
            assert (await api.post_taken(s))[0] == 201
        code, body = await api.post_taken(ioc, tif="ioc")
        assert code == 201 and body["status"] == "removed", body
        sig = _cancel_sig(c, cancelled, ALICE)
        code, body = await api.post(f"/v1/orders/{cancelled.hash_hex}/cancel", {"signature": sig})
        assert code == 200 and body["status"] == "cancelled"
        c.exchange.fill_order(c.sender(BOB), filled, 3000 * E6)
        await synced(nd, c)
        closed = {cancelled: "cancelled", ioc: "removed", filled: "filled"}
        await _evicted(nd, *closed)
        assert set(nd.records) == {stays.hash}
        for s, status in closed.items():
            await _read_back(nd, api, s, status)
        proof = await nd.cancel_proofs([cancelled.hash_hex, stays.hash_hex, "0xzz"])
        assert proof == [{"orderHash": cancelled.hash_hex, "signature": sig}]
        code, body = await api.post(
            f"/v1/orders/{filled.hash_hex}/cancel", {"signature": _cancel_sig(c, filled, ALICE)}
        )
        assert code == 200 and body["status"] == "filled"  # closed: stays as the chain has it
        await _evicted(nd, filled)  # (the cancel read it back into memory: it leaves again)
        _, health = await api.get("/health")
        assert (health["orders"], health["ordersInMemory"], health["openOrders"]) == (4, 1, 1)
    async with running_node(cfg) as (nd, api):  # restarted: closed orders stay on disk
        assert set(nd.records) == {stays.hash} and nd.registry.total == 4
        for s, status in closed.items():
            await _read_back(nd, api, s, status)
        assert (await api.status(stays)) == "open"


async def test_a_reorg_reopens_an_evicted_filled_order_from_the_store(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", closed_grace=0.2)) as (nd, api):
        events = Events(await api.session.ws_connect(api.base + "/v1/ws"))
        whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(whole))[0] == 201
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        await synced(nd, c)
        assert (await api.status(whole)) == "filled"
        await _evicted(nd, whole)
        revert(c, snap)
        c.rpc.call("evm_mine")
        await synced(nd, c)
        assert nd.watcher.reorgs == 1
        assert (await api.status(whole)) == "open" and whole.hash in nd.book
        await wait_for(lambda: events.has("order", "reopened", whole.hash_hex), timeout=10)
        await events.close()
        rec = nd.records.get(whole.hash)
        assert rec is not None and rec.status is S.OPEN  # held again: it is open
        assert nd.registry.by_signature(whole.to_json()["signature"]) is rec


async def test_a_cancel_up_to_rejudges_the_makers_evicted_orders_from_the_store(
    chain: Chain, tmp_path: Path
) -> None:
    """The chain says cancelled before filled: a maker's cancel-up-to turns its evicted
    filled order into a cancelled one, as for an order held in memory; an order closed by
    the node's policy (an IOC remainder: removed) is not the chain's, and stays."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", closed_grace=0.2)) as (nd, api):
        filled = c.sign(ask(c, ALICE, E18, 3000 * E6))
        ioc = c.sign(ask(c, ALICE, E18, 3200 * E6))
        assert (await api.post_taken(filled))[0] == 201
        assert (await api.post_taken(ioc, tif="ioc"))[0] == 201
        c.exchange.fill_order(c.sender(BOB), filled, 3000 * E6)
        await synced(nd, c)
        await _evicted(nd, filled, ioc)
        salt = max(filled.order.salt, ioc.order.salt) + 1
        c.exchange.cancel_orders_up_to(c.sender(ALICE), salt)
        await synced(nd, c)
        assert (await api.status(filled)) == "cancelled"
        assert (await api.status(ioc)) == "removed"
        assert ioc.hash not in nd.records  # not read back: not the chain's close
        await _evicted(nd, filled)  # changed, stored, then evicted again
        assert nd.registry.total == 2 and nd.knows(filled.hash_hex)
