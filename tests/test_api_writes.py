"""The API's answers that wait for a write (a soft cancel; an order closed at arrival, an
``ioc`` one with nothing to trade) await its commit on the store's writer thread: the
node's event loop serves on meanwhile, and the 2xx still comes only once it is committed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sdex.model import OrderStatus
from sdex.node.core import Node
from sdex.node.intake import committed
from sdex.order import SignedOrder, sign_hash
from sdex.store import StoreError
from sdex.watch.changes import STORE_WAIT
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for, writer_stuck
from tests.test_node import ALICE, BOB, E6, E18, ask, bid, node_with_resting_ask


async def test_a_cancel_and_a_killed_order_await_their_commit_while_the_loop_serves(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        killed = c.sign(bid(c, BOB, E18, 2000 * E6))  # (below the ask: nothing to trade)
        sig = sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE])

        with writer_stuck(node) as busy:
            cancel = asyncio.create_task(
                api.post(f"/v1/orders/{resting.hash_hex}/cancel", {"signature": "0x" + sig.hex()})
            )
            ioc = asyncio.create_task(api.post_order(killed, tif="ioc"))

            def closed() -> bool:  # (in memory: both handlers ran up to their write)
                a, b = node.registry.get(resting.hash), node.registry.get(killed.hash)
                return (
                    a is not None
                    and a.status is OrderStatus.CANCELLED
                    and b is not None
                    and b.status is OrderStatus.REMOVED
                )

            await wait_for(closed, 30)
            async with api.session.get(api.base + "/health") as r:
                assert r.status == 200
            assert not busy.done()  # answered while the writer was still stuck
            assert not cancel.done() and not ioc.done()  # no 2xx before the commit
        code, body = await asyncio.wait_for(cancel, 30)
        assert (code, body["status"]) == (200, "cancelled")
        stored = node.store.order_now(resting.hash_hex)  # (the committed row)
        assert stored is not None and stored.status == "cancelled"
        assert stored.cancel_signature == sig
        code, body = await asyncio.wait_for(ioc, 30)
        assert code == 201 and body["metaData"]["status"] == "removed", body
        stored = node.store.order_now(killed.hash_hex)
        assert stored is not None and stored.status == "removed"


async def refuse(node: Node, trigger: str) -> None:
    """A real SQLite trigger on the node's database refuses one job (each job is its own
    savepoint, so the jobs queued with it still commit)."""
    await asyncio.wrap_future(node.store._writer.submit(lambda db: db.execute(trigger)))


async def killed_at_arrival_refusing(
    node: Node, api: Api, c: Chain, event: str
) -> tuple[SignedOrder, int, Any]:
    """An ``ioc`` bid below the resting ask (nothing to trade: killed at arrival), posted
    while a real SQLite trigger refuses its row's ``event`` (INSERT: the row; UPDATE: its
    close): the order and the answer."""
    killed = c.sign(bid(c, BOB, E18, 2000 * E6))
    await refuse(
        node,
        f"CREATE TRIGGER no_{event.lower()} BEFORE {event} ON orders WHEN NEW.hash = "
        f"'{killed.hash_hex.lower()}' BEGIN SELECT RAISE(ABORT, 'refused here'); END",
    )
    code, body = await api.post_order(killed, tif="ioc")
    return killed, code, body


async def test_a_killed_order_whose_row_is_refused_is_not_answered_2xx(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding: an order closed at arrival waited only for its close. Its row's
    insert refused alone, the close (0 rows) committed and the wallet got a 201 for an
    order that was never stored."""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, _resting):
        killed, code, body = await killed_at_arrival_refusing(node, api, c, "INSERT")
        assert code == 503, (code, body)
        assert node.store.order_now(killed.hash_hex) is None


async def test_a_cancel_whose_proof_is_refused_is_not_answered_2xx(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding: a cancel waited only for the last update queued (its status). Its
    signature's write refused alone, the answer was 200 with no proof stored."""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        await refuse(
            node,
            "CREATE TRIGGER no_proof BEFORE UPDATE OF cancel_sig ON orders"
            " BEGIN SELECT RAISE(ABORT, 'refused here'); END",
        )
        sig = sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE])
        code, body = await api.post(
            f"/v1/orders/{resting.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
        )
        assert code == 503, (code, body)
        stored = node.store.order_now(resting.hash_hex)
        assert stored is not None and stored.cancel_signature is None


async def test_a_cancel_repeated_after_a_refused_one_writes_it_again(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding: a first cancel answered 503 (its proof and status refused) left the
    signature and the status in memory, so a repeat wrote nothing and was answered 200 with
    neither stored. A wallet's repeat writes both again: 503 while the store refuses them,
    200 once they are committed."""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        hex_hash = resting.hash_hex.lower()
        await refuse(
            node,
            f"CREATE TRIGGER no_cancel BEFORE UPDATE ON orders WHEN NEW.hash = '{hex_hash}'"
            " BEGIN SELECT RAISE(ABORT, 'refused here'); END",
        )
        sig = sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE])
        path, body = f"/v1/orders/{resting.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
        assert (await api.post(path, body))[0] == 503
        code, answer = await api.post(path, body)  # the store still refuses: not 200
        assert code == 503, (code, answer)
        await refuse(node, "DROP TRIGGER no_cancel")
        code, answer = await api.post(path, body)
        assert (code, answer["status"]) == (200, "cancelled"), answer
        stored = node.store.order_now(hex_hash)
        assert stored is not None and stored.status == "cancelled"
        assert stored.cancel_signature == sig
        # once committed, replays of the (public, gossiped) signature write nothing more
        await refuse(node, "CREATE TABLE row_writes (n INTEGER)")
        await refuse(
            node,
            "CREATE TRIGGER count_writes AFTER UPDATE ON orders"
            " BEGIN INSERT INTO row_writes VALUES (1); END",
        )
        for _ in range(3):
            code, answer = await api.post(path, body)
            assert (code, answer["status"]) == (200, "cancelled"), answer
        count = node.store._writer.submit(  # (a job after the replays' writes, if any)
            lambda db: db.execute("SELECT COUNT(*) FROM row_writes").fetchone()[0]
        )
        assert await asyncio.wrap_future(count) == 0


async def test_an_order_is_answered_201_though_another_rows_close_at_its_arrival_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    """Review9, Low: the answer waited for the last row update queued while the order was
    accepted, which can be another order's: a resting order found expired and closed at
    the arrival. That row refused, the wallet got 503 "the order was not stored" for an
    order that is stored, booked and offered. It waits for its own writes only."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        soon = node.now() + 5  # (past the intake's margin of 2 s)
        short = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=soon))
        assert (await api.post_order(short))[0] == 201
        await refuse(
            node,
            f"CREATE TRIGGER no_close BEFORE UPDATE ON orders WHEN NEW.hash = "
            f"'{short.hash_hex.lower()}' BEGIN SELECT RAISE(ABORT, 'refused here'); END",
        )
        # The node's now past its expiry, no block mined (a block would have the watcher
        # close it first: Hardhat's clock runs ahead of the wall clock, so not waited for);
        # once the watcher has applied the chain's head (the tip's block sets the stamp:
        # left48, so one applied after would take this back)
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: (a := node.watcher.applied) is not None and a.number >= head)
        node.latest_timestamp = soon
        rec = node.registry.get(short.hash)
        assert rec is not None and rec.status is OrderStatus.OPEN and short.hash in node.book
        incoming = c.sign(bid(c, BOB, E18, 2000 * E6))  # (below the ask: it rests)
        code, body = await api.post_order(incoming)
        assert code == 201 and body["metaData"]["status"] == "open", (code, body)
        assert rec.status is OrderStatus.EXPIRED  # closed at the arrival: its row refused
        stored = node.store.order_now(short.hash_hex)
        assert stored is not None and stored.status == "open"
        stored = node.store.order_now(incoming.hash_hex)
        assert stored is not None and stored.status == "open"
        assert incoming.hash in node.book


async def test_a_killed_order_whose_close_is_refused_is_not_answered_2xx(
    chain: Chain, tmp_path: Path
) -> None:
    """Its own writes are still waited for: an ``ioc`` order killed at arrival, its row
    stored but its close refused, gets 503 (the row says open, the answer would say removed)."""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, _resting):
        killed, code, body = await killed_at_arrival_refusing(node, api, c, "UPDATE")
        assert code == 503, (code, body)
        stored = node.store.order_now(killed.hash_hex)
        assert stored is not None and stored.status == "open"


async def test_a_cancel_is_answered_200_though_another_rows_write_queued_with_it_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: a wallet's cancel waited for its own writes and ``Store.last_update``, the
    last row update queued by anyone, taken once its close was queued: another order's
    write queued by then (here through the registry's publish of the cancel, which is
    where a change of the node's would put one) made its answer rest on that write, and a
    refusal of it gave the wallet a 503 for a cancel stored in full. It waits for the rows
    queued for its own order only (``OrderRegistry.own_writes``), as an order's post does.
    (No path of the node queues another order's update there today: the test makes one.)"""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        other = c.sign(bid(c, BOB, E18, 2000 * E6))  # (below the ask: it rests)
        assert (await api.post_order(other))[0] == 201
        other_rec = node.registry.get(other.hash)
        assert other_rec is not None
        await refuse(
            node,
            f"CREATE TRIGGER no_other BEFORE UPDATE ON orders WHEN NEW.hash = "
            f"'{other.hash_hex.lower()}' BEGIN SELECT RAISE(ABORT, 'refused here'); END",
        )
        registry = node.registry
        publish = registry.publish

        def publish_then_write_another(rec: Any, event: str, *args: Any, **kw: Any) -> None:
            publish(rec, event, *args, **kw)
            if rec.signed.hash == resting.hash and event == OrderStatus.CANCELLED:
                registry.correct_filled(other_rec, other_rec.filled)  # another order's row

        registry.publish = publish_then_write_another  # type: ignore[method-assign]
        sig = sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE])
        code, body = await api.post(
            f"/v1/orders/{resting.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
        )
        assert (code, body.get("status")) == (200, "cancelled"), (code, body)
        stored = node.store.order_now(resting.hash_hex)
        assert stored is not None and stored.status == "cancelled"
        assert stored.cancel_signature == sig
        # its own write refused still gets 503 (the capture of its own writes holds)
        registry.publish = publish  # type: ignore[method-assign]
        mine = c.sign(ask(c, ALICE, E18, 3100 * E6))
        assert (await api.post_order(mine))[0] == 201
        await refuse(
            node,
            f"CREATE TRIGGER no_mine BEFORE UPDATE OF status ON orders WHEN NEW.hash = "
            f"'{mine.hash_hex.lower()}' BEGIN SELECT RAISE(ABORT, 'refused here'); END",
        )
        sig = sign_hash(c.domain.cancel_digest(mine.hash), c.keys[ALICE])
        code, body = await api.post(
            f"/v1/orders/{mine.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
        )
        assert code == 503, (code, body)


async def test_a_wallets_answer_waits_for_a_stalled_store_only_so_long(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: an order's or a cancel's answer waited for its commit with no bound: a
    writer thread that hung (a stuck disk) held every wallet's request open for ever (and
    aiohttp does not cancel a handler whose client left: each one more waiting). Past
    ``store_wait`` the wallet gets 503 (not acknowledged); the writes stay queued, commit
    once the store moves, and the order posted again is then answered 200."""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        node.store_wait = 0.3
        posted = c.sign(bid(c, BOB, E18, 2000 * E6))  # (below the ask: it rests)
        sig = sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE])
        with writer_stuck(node, within=30):
            code, body = await asyncio.wait_for(api.post_order(posted), 10)
            assert code == 503 and "stalls" in body["reason"], (code, body)
            path = f"/v1/orders/{resting.hash_hex}/cancel"
            code, body = await asyncio.wait_for(api.post(path, {"signature": "0x" + sig.hex()}), 10)
            assert code == 503 and "stalls" in body["reason"], (code, body)
            code, body = await asyncio.wait_for(api.post_order(posted), 10)  # (held: stored?)
            assert code == 503, (code, body)
        # (the bound as it was: on a loaded machine the queued writes' commit or the next
        # read may take over 0.3 s, a 503 that says nothing about what is checked here)
        node.store_wait = STORE_WAIT
        code, body = await api.post_order(posted)  # its row committed once the store moved
        assert code == 200, (code, body)
        assert node.store.order_now(posted.hash_hex) is not None
        code, body = await api.post(path, {"signature": "0x" + sig.hex()})
        assert (code, body["status"]) == (200, "cancelled"), (code, body)
        stored = node.store.order_now(resting.hash_hex)
        assert stored is not None and stored.status == "cancelled"


async def test_a_peers_ask_for_cancel_proofs_waits_for_a_stalled_store_only_so_long(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: the proofs of cancelled orders evicted from memory are read on the store's
    writer thread; a fetch naming them (``why``) waited for a hung writer with no bound,
    each peer's fetch one more handler waiting for ever. Past ``store_wait`` it is answered
    without them (the peer asks again next round); once the store moves, with them."""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        sig = sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE])
        path = f"/v1/orders/{resting.hash_hex}/cancel"
        assert (await api.post(path, {"signature": "0x" + sig.hex()}))[0] == 200
        node.registry.grace = 0
        assert await node.registry.evict() == 1 and node.registry.get(resting.hash) is None
        proof = {"orderHash": resting.hash_hex.lower(), "signature": "0x" + sig.hex()}
        node.store_wait = 0.3
        with writer_stuck(node, within=30):
            assert await asyncio.wait_for(node.cancel_proofs([resting.hash_hex]), 10) == []
        node.store_wait = STORE_WAIT  # (a loaded machine's read may take over 0.3 s)
        assert await node.cancel_proofs([resting.hash_hex]) == [proof]


async def test_the_web_status_never_blocks_the_event_loop_on_the_stores_writer(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: ``GET /web/status`` read the pending settlements through the writer thread,
    blocking the event loop until the writer answered: behind a long group commit the whole
    node paused, and with a hung writer (a stuck disk) any visitor of the web page froze it
    for good (no ``/health``, no gossip). It reads what is committed, off the loop."""
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, _resting):
        with writer_stuck(node) as busy:
            status = asyncio.create_task(api.get("/web/status"))
            code, _health = await asyncio.wait_for(api.get("/health"), 20)  # the loop serves
            assert code == 200
            code, body = await asyncio.wait_for(status, 20)
            assert code == 200 and body["inFlight"] == [], body
            assert not busy.done()  # answered while the writer was still held


async def test_committed_waits_for_every_write_and_no_longer_than_asked() -> None:
    """``committed``: every write committed, the first refused raises, past ``within`` a
    ``StoreError`` (the writes themselves untouched), nothing to wait for resolves."""
    loop = asyncio.get_running_loop()
    assert await committed([], 1.0) is None
    a, b = loop.create_future(), loop.create_future()
    both = committed([a, b], 5.0)
    a.set_result(None)
    await asyncio.sleep(0)
    assert not both.done()
    b.set_result(None)
    assert await both is None
    a, b = loop.create_future(), loop.create_future()
    refused = committed([a, b])
    b.set_exception(StoreError("refused here"))
    with pytest.raises(StoreError, match="refused here"):
        await refused
    late = committed([a], 0.05)
    with pytest.raises(StoreError, match="stalls"):
        await late
    assert not a.done()  # (the write goes on)
    a.set_result(None)
