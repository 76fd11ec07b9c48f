"""restart97 (left44, "Restart adoption"; review96e): a start's adoption of a pooled row whose
order the book does not hold reads that order's stored row (``NodeAdoption._off_book``: one its
maker soft-cancelled, evicted). A refused read (a store error that lasts a while: a lock held
past the writer's busy timeout, a failing disk) raised out of the adoption: on a start that
does not hold (no doubt) it failed the whole start (``Node.load``), the node down till a
restart, where a held start's step is tried again (``_held_step``). Now the adoption is tried
again there too, its row's orders held (nothing matched till it is done), the row adopted once
the store reads: never given up on the refusal (its bytes pooled: its orders matched again
behind it would revert), never adopted twice.

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled and its maker's soft cancel acknowledged; the restart in this process, its real SQLite
reader refusing every read of the orders (an authorizer) while the adoption runs, till two
reads were refused."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.node.adoption import NodeAdoption
from sdex.store import ChainIdentity, Store
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, node_up, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_doubt81_replaced_rows import statuses
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import pending_rows, pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_review66_adopt_landed import FEES
from tests.test_store95_follow_refused import refusing

__all__ = ["pooling"]


async def test_a_refused_read_at_adoption_is_tried_again_the_orders_held(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    operator = c.address(OPERATOR)
    async with node_up(c, db, None, OPERATOR) as (proc, api):
        c.rpc.call("evm_setAutomine", False)
        count = nonce(c.rpc, operator)
        assert (await api.post_taken(maker))[0] == 201
        code, body = await api.post_taken(taker)
        assert code == 201 and len(body["matches"]) == 1, body
        await wait_for(lambda: nonce(c.rpc, operator, "pending") == count + 1, timeout=30)
        sig = sign_cancel(c.domain, maker.hash, c.keys[ALICE])
        code, said = await api.post(
            f"/v1/orders/{maker.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
        )
        assert code == 200, said
        proc.kill()  # (SIGKILL, by its PID: the row pending, its bytes pooled)
        proc.wait(timeout=10)
    (tx,) = pending_rows(db)
    refused: list[str] = []
    real = NodeAdoption._adopt_rows

    async def adopt_rows(self: Any, rows: Any, loaded: Any, unread_all: bool) -> None:
        reader = self.store._reader
        reader.set_authorizer(refusing(refused))

        async def lift() -> None:  # (the store reads again once two reads were refused)
            await wait_for(lambda: len(refused) >= 2, timeout=60)
            reader.set_authorizer(None)

        lifting = asyncio.ensure_future(lift())
        try:
            await real(self, rows, loaded, unread_all)
        finally:
            reader.set_authorizer(None)
            lifting.cancel()

    monkeypatch.setattr(NodeAdoption, "_adopt_rows", adopt_rows)
    other = c.sign(ask(c, 3, E18, 3000 * E6))  # (crosses the row's bid)
    # (before: the first refusal raised out of the start, ``Node.load``: the node down)
    async with running_node(node_config(c, db)) as (node, api):
        s = node.settler
        assert len(refused) >= 2, refused
        assert s.adopted == 1 and tx in s.in_flight, (s.adopted, s.in_flight)
        code, body = await api.post_taken(other)
        assert code == 201 and body["matches"] == [], body  # (the bid held by the row)
        c.rpc.call("evm_mine")  # (the pooled row)

        async def over() -> bool:
            return not s.in_flight and await api.status(taker) == "filled"

        await wait_for(over, timeout=60)
        c.rpc.call("evm_mine")  # (anything sent behind it)
        assert nonce(c.rpc, operator) == count + 1, "matched again behind the row"
        assert c.exchange.order_info(maker.order).filled == E18
        assert c.exchange.order_info(other.order).filled == 0
        assert s.failed == 0 and s.lost == 0, (s.failed, s.lost)
        assert pending_rows(db) == []


ROWS = 4


async def test_a_hanging_confirming_read_bounds_the_start_not_each_row(
    chain: Chain, tmp_path: Path
) -> None:
    """``ROWS`` pending rows (one pair each, stored open), all mined before the start; the
    restart behind a real loopback proxy that holds every read of their blocks by hash (the
    confirming read apart: ``sdex.settlement.confirm``) till released. Each row's receipt
    was believed only once confirmed (``rowreceipt.believed``), each read up to
    ``CONFIRM_WAIT`` (10 s), twice a row (the reconcile, the adoption), one row after the
    other: 80 s for four before the node served. Now the start's reads share one bound a
    phase (``START_CONFIRM_WAIT``): one held read each, the rows after it judged as not
    believed (their receipts confirmed later). Released, every row is marked ``mined`` as
    its receipt says, each pair filled once, nothing sent."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    sender = c.sender(OPERATOR)
    first = nonce(c.rpc, c.address(OPERATOR))
    txs, pairs = [], []
    try:
        for i in range(ROWS):
            a = c.sign(ask(c, ALICE, E18, (3000 + i) * E6))
            b = c.sign(bid(c, BOB, E18, (3000 + i) * E6))
            for seq, so in enumerate((a, b), 2 * i + 1):
                store.add_order(so, seq, "open", "api")
            data = c.exchange.encode_settlement([(a, b, E18)])
            tx = sender.sign_at(first + i, c.exchange.address, data, 400_000, fees=FEES)
            named = [(a.hash_hex, b.hash_hex)]
            await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, named))
            await asyncio.sleep(0.01)  # (read back in the order signed)
            txs.append(tx)
            pairs.append((a, b))
    finally:
        store.close()
    blocks = set()
    for tx in txs:
        c.rpc.call("eth_sendRawTransaction", tx.raw)
        got = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
        assert got is not None and got["status"] == "0x1", got
        blocks.add(got["blockHash"].lower())
    held: list[str] = []
    release = threading.Event()

    def hold(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        for call in calls:
            if not isinstance(call, dict) or call.get("method") != "eth_getBlockByHash":
                continue
            if str((call.get("params") or [""])[0]).lower() in blocks:
                held.append(str(call["params"][0]))
                release.wait(120)  # (then passed on)
        return None

    try:
        with _proxy(c.rpc.url, hold) as url:
            async with running_node(replace(cfg, rpc=url)) as (_, api):
                begun = len(held)
                # before: two held reads a row, one after the other (10 s each)
                assert 1 <= begun <= 2, (begun, held)
                release.set()

                def marked() -> bool:
                    return all(statuses(cfg.db).get(t.tx_hash) == "mined" for t in txs)

                await wait_for(marked, timeout=90)
                for a, b in pairs:
                    assert c.exchange.order_info(a.order).filled == E18
                    assert await api.status(a) == "filled" and await api.status(b) == "filled"
                assert nonce(c.rpc, c.address(OPERATOR)) == first + ROWS  # (nothing sent)
    finally:
        release.set()
