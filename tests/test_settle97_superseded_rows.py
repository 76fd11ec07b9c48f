"""settle97 (review96a): a start's pending rows at one nonce are awaited together only when
their pairs are equal (a settlement and its replacements: ``reconcile.awaited_with``), and a
row whose receipt is not believed with no doubt is not counted as held by one.

Two batches of other pairs can both be pending at one nonce (its nonce given back, a later
batch signed at it: ``superseded``). Grouped by nonce alone, a start that adopted them unread
(in a doubt, or a receipt not believed) awaited the earlier with the later, and the earlier's
receipt, had it landed, was judged against the later's batch (``whole``): never believed, the
later's orders held in flight. And a receipt not believed with no doubt set ``unsent_at``: a
start longer than ``HELD_SEND_MAX`` made the sound row stale (its cancel sent at its nonce,
never its own bytes again, had the chain dropped them).

Real SQLite store, real Hardhat; the second test's restart in this process behind settle89's
real loopback balancer lying of the row's receipt (as settle96's)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import sdex.node.core as core
from sdex.chain.rpc import quantity
from sdex.settlement.reconcile import awaited_with
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import foreign_receipt, pooled_row
from tests.supersededrows import stored_pairs, superseded_rows
from tests.test_doubt81_replaced_rows import start_in_doubt, statuses
from tests.test_held79_doubt_settlements import proven
from tests.test_node import E18
from tests.test_reconcile77_too_high import pending_rows, pooling
from tests.test_review66_adopt_landed import FEES, OPERATOR
from tests.test_settle89_sticky_receipt import RECEIPT, Said, sticky_balancer

__all__ = ["pooling"]


async def test_rows_at_a_nonce_are_awaited_together_only_with_equal_pairs(
    chain: Chain, tmp_path: Path
) -> None:
    """At one nonce: a settlement of one pair, its replacement (same pairs, higher fees),
    then a batch of another pair signed at that nonce; one row at the next nonce. Read back
    from the store, the first is awaited with its replacement, the other batch with itself
    alone (before: with the replacement's latest at the nonce, the other batch)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    store, orders = stored_pairs(c, cfg)
    sender = c.sender(OPERATOR)
    one = c.exchange.encode_settlement([(orders[0], orders[1], E18)])
    other = c.exchange.encode_settlement([(orders[2], orders[3], E18)])
    first = sender.sign(c.exchange.address, one, 400_000, fees=FEES)
    again = sender.sign_at(
        first.nonce, c.exchange.address, one, 400_000, fees=(2 * FEES[0], 2 * FEES[1])
    )
    over = sender.sign_at(first.nonce, c.exchange.address, other, 400_000, fees=FEES)
    after = sender.sign_at(first.nonce + 1, c.exchange.address, other, 400_000, fees=FEES)
    pairs = [(orders[0].hash_hex, orders[1].hash_hex)]
    others = [(orders[2].hash_hex, orders[3].hash_hex)]
    try:
        await asyncio.wrap_future(
            store.add_settlement(first.tx_hash, first.nonce, first.raw, pairs)
        )
        await asyncio.wrap_future(
            store.add_replacement(first.tx_hash, again.tx_hash, again.nonce, again.raw)
        )
        await asyncio.sleep(0.01)  # (rows read back in the order signed: created_at)
        await asyncio.wrap_future(store.add_settlement(over.tx_hash, over.nonce, over.raw, others))
        await asyncio.wrap_future(
            store.add_settlement(after.tx_hash, after.nonce, after.raw, pairs)
        )
        rows = store.pending_settlements()
    finally:
        store.close()
    assert [r.tx_hash for r in rows] == [first.tx_hash, again.tx_hash, over.tx_hash, after.tx_hash]
    assert awaited_with(rows) == {
        first.tx_hash: again.tx_hash,  # (its replacement: the same matches)
        again.tx_hash: again.tx_hash,
        over.tx_hash: over.tx_hash,  # (before: the first and its replacement awaited with it)
        after.tx_hash: after.tx_hash,
    }


async def test_a_receipt_not_believed_with_no_doubt_is_not_held(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pending row pooled, a restart with no doubt told a receipt of it that does not
    account for its match (settle96's lie): adopted unread, and not in ``unsent_at`` after
    the start's reconcile (before: there, its start's time counted toward
    ``HELD_SEND_MAX`` as a doubt's hold)."""
    c = pooling
    db = tmp_path / "n.db"
    _, _, tx, row = await pooled_row(c, db)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    head = quantity(c.rpc.call("eth_blockNumber"))
    told = foreign_receipt(tx, row, head, "0x1")  # (mined with no fills, short of its match's two)
    held: dict[str, float] = {}
    doubts: list[object] = []
    real = core.reconcile

    async def reconciled(lane: Any) -> Any:
        got = await real(lane)
        held.update(lane.unsent_at)
        doubts.append(lane.async_sends.doubted())
        return got

    monkeypatch.setattr(core, "reconcile", reconciled)
    lies: list[int] = []
    async with sticky_balancer(c.rpc.url) as b:

        def answer(call: object, port: int) -> Said:
            if not isinstance(call, dict) or call.get("method") != RECEIPT:
                return None
            if call.get("params") != [tx]:
                return None
            lies.append(port)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": told}

        b.answer = answer
        async with running_node(replace(node_config(c, db), rpc=b.url)) as (node, _):
            s = node.settler
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            assert lies and doubts == [""], (lies, doubts)  # (no doubt: a lie told)
            assert tx not in held, held  # (before: its start counted as a doubt's hold)
            assert pending_rows(db) == [tx]


async def test_an_earlier_batch_of_other_pairs_that_landed_is_judged_on_its_own(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two crossing pairs stored open; a settlement of the first pair in full and, signed
    after it at its nonce, one of the second pair (its nonce given back: ``superseded``),
    both pending; the first mined before a start in doubt. Once the doubt is proven the
    first's row is ``mined``, the second's ``dropped`` (its nonce taken without it) and the
    second pair matched again and settled (before: the first awaited with the second, its
    receipt judged against the second's batch, never believed: the second pair held in
    flight, the rows pending)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    orders, first, over = await superseded_rows(c, cfg, FEES)
    c.rpc.call("eth_sendRawTransaction", first.raw)  # (before the start: mined)
    assert c.rpc.call("eth_getTransactionReceipt", first.tx_hash)["status"] == "0x1"
    start_in_doubt(monkeypatch)
    async with running_node(cfg) as (node, api):
        s = node.settler
        assert node.mirror.doubt.held
        proven(node.mirror.doubt)

        async def settled() -> bool:  # (the second pair matched again and settled)
            got = {await api.status(orders[2]), await api.status(orders[3])}
            return got == {"filled"} and s.idle.is_set() and not s.in_flight

        await wait_for(settled, timeout=60)  # (before: held in flight, never settled)
        assert c.exchange.order_info(orders[0].order).filled == 2 * E18
        assert c.exchange.order_info(orders[2].order).filled == E18
        await wait_for(lambda: statuses(cfg.db).get(first.tx_hash) == "mined", timeout=30)
    rows = statuses(cfg.db)
    assert rows[first.tx_hash] == "mined" and rows[over.tx_hash] == "dropped", rows
