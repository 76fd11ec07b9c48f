"""reset70: a chain replaced while the node was down (a devnet restarted and deployed again:
the same chain id, the same Exchange address, so the wallets' orders' EIP-712 domain is the
one the node serves; another deployment block hash) is a reset at the start, as one found
while the node runs: the orders are kept and judged again by the new chain (the old chain's
fills dropped; an order they filled open again, a one-shot order ``removed``), the old
chain's unsent settlements never sent. ``Store._bind`` deleted every stored order, the
wallets' acknowledged orders lost. Real chains of the suite's engine (resend67's pair), a
real node and SQLite store; the store's own steps on a real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chainnode import Engine
from sdex.node import Node
from sdex.store import ChainIdentity, Store, StoredFill
from sdex.storeundone import UNDONE_KEPT
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_resend67_replaced_chain import replacing
from tests.test_store import DOMAIN, IDENTITY, _order
from tests.test_store_undone import _fill


async def test_a_chain_replaced_while_the_node_was_down_keeps_and_rejudges_its_orders(
    tmp_path: Path, engine: Engine
) -> None:
    old, new, c, c2 = replacing(engine)
    try:
        cfg = node_config(c, tmp_path / "n.db")
        resting = c.sign(ask(c, ALICE, E18, 3100 * E6))  # (above the bid: it stays open)
        filled = c.sign(ask(c, ALICE, E18, 3000 * E6))
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        async with running_node(cfg) as (node, api):
            for signed in (resting, filled):
                assert (await api.post_taken(signed))[0] == 201
            code, body = await api.post_taken(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body

            async def settled() -> bool:
                _, fills = await api.get("/v1/fills")
                return int(fills["total"]) == 2 and await api.status(filled) == "filled"

            await wait_for(settled, timeout=30)
            assert c.exchange.order_info(filled.order).filled == E18  # (the old chain's)

        # the devnet restarted, deployed again alike, while the node was down
        async with running_node(replace(cfg, rpc=new.node.url)) as (node, api):
            await walked(node)
            assert await api.status(resting) == "open"  # (was 404: deleted)
            assert await api.status(filled) == "open"  # the new chain never filled it
            assert await api.status(taker) == "removed"  # (an IOC never rests)
            assert resting.hash in node.book and filled.hash in node.book
            assert (await api.get("/v1/fills"))[1]["total"] == 0
            assert not node.store.rebuilt and not node.store.rejudge_due
            assert node.store.pending_settlements() == []
            assert c2.exchange.order_info(filled.order).filled == 0
        async with running_node(replace(cfg, rpc=new.node.url)) as (node, api):
            assert await api.status(filled) == "open"  # (judged once: as it was left)
    finally:
        old.stop()
        new.stop()


async def test_a_replaced_chain_at_open_is_a_reset_of_the_store(tmp_path: Path) -> None:
    """The same deployment, another deployment block hash: the orders stay, the old chain's
    fills go (kept as undone: one mined again counts again), the mirror and its head go, a
    pending settlement is dropped (never sent again), and the re-judging stays due until
    done (a start that fails before it leaves it to the next)."""
    db = tmp_path / "s.db"
    order = _order(1)
    store = Store(db, IDENTITY, DOMAIN)
    store.add_order(order, 1, "filled", "api")
    store.add_fills([StoredFill.of(_fill(1, 2, 3), ours=False)])
    store.add_settlement("0x" + "aa" * 32, 0, "0x02", []).result(10)
    await store.save_mirror((5, "0x" + "00" * 32, 1), {}, {}, {})
    store.close()
    replaced = ChainIdentity(IDENTITY.chain_id, IDENTITY.exchange, "0x" + "ef" * 32)
    for opened in range(2):  # (opened twice: still due until ``rejudged``)
        store = Store(db, replaced, DOMAIN)
        try:
            assert not store.rebuilt and store.rejudge_due
            assert [s.signed.hash for s in store.orders()] == [order.hash]
            assert store.fills()[0] == 0 and store.checkpoint() is None
            assert store.pending_settlements() == []
            assert len(await store.undone_fills(UNDONE_KEPT)) == 1
            if opened == 1:
                await store.rejudged()
        finally:
            store.close()
    store = Store(db, replaced, DOMAIN)
    assert not store.rejudge_due and len(list(store.orders())) == 1
    store.close()


def test_a_database_of_another_deployment_is_rebuilt(tmp_path: Path) -> None:
    """Another chain id: another EIP-712 domain, whose orders no Exchange here can fill: the
    database is rebuilt (as before; another Exchange: ``tests/test_store.py``)."""
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    store.add_order(_order(1), 1, "open", "api")
    store.close()
    other = ChainIdentity(IDENTITY.chain_id + 1, IDENTITY.exchange, IDENTITY.deploy_block_hash)
    store = Store(db, other, DOMAIN)
    try:
        assert store.rebuilt and not store.rejudge_due and list(store.orders()) == []
    finally:
        store.close()


async def test_a_reset_killed_before_its_rejudging_is_judged_again_at_the_next_start(
    chain: Chain, tmp_path: Path
) -> None:
    """chaos69 f: a node killed during a reset, after ``Store.reset_chain`` committed and the
    new chain's head was saved, before the re-judging of its stored orders: the next start
    found that head on the chain and made no reset, so it never ran (an order the reverted
    blocks had filled stayed ``filled``, the chain 0). The reset's transaction marks it due
    (``Store.rejudge_due``) until done: the start does it. Real Hardhat (``evm_revert`` while
    the node is down), the store's own reset, a real node."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    filled = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(filled))[0] == 201
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        code, body = await api.post_taken(taker, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body
        await settled(c, node, api, taker)
        assert await api.status(filled) == "filled"
    revert(c, snap)  # the settlement undone,
    c.rpc.call("hardhat_mine", hex(3))
    deployed = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)["hash"]
    identity = ChainIdentity(cfg.chain_id, cfg.exchange, deployed)
    store = Store(cfg.db, identity, c.domain)
    await store.reset_chain(identity)  # the reset's transaction committed,
    head = c.rpc.call("eth_getBlockByNumber", "latest", False)
    saved = (int(head["number"], 16), head["hash"], int(head["timestamp"], 16))
    await store.save_mirror(saved, {}, {}, {})  # the new chain's head saved, then a kill
    store.close()
    async with running_node(cfg) as (node, api):
        assert node.watcher.resumed and node.watcher.resets == 0  # (no reset at this start)
        await walked(node)
        assert await api.status(filled) == "open"  # (was "filled": the chain has 0)
        assert await api.status(taker) == "removed"
        assert not node.store.rejudge_due


async def walked(node: Node) -> None:
    """The start's re-judging of a reset (``rejudge_due``) done: it runs once the node is
    ready (``Node._watch``; reset74)."""
    await wait_for(lambda: not node.rejudging and not node.store.rejudge_due, timeout=60)
