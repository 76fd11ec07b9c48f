"""review77a: a settlement a restart finds pooled behind a gap in the lane's nonces (anvil,
geth: a devnet rewound below the lane's settlements while the node was down, or a kill
within the second before gap76's fill) is adopted into the lane, which fills the gap, and
lands: not given up; more than one such row too.

The restart sends each pending row again and waits for its receipt
(``sdex.settlement.reconcile``); on a chain that mines on the send, one still pooled is
mined by the lane's transfer of nothing at its next nonce (``NonceLane._nudge``), which
fills one nonce of a gap. Behind a gap of two, it stayed pooled and was given up: its pair
matched again at the chain's count, and once the lane's count came to the given-up one it
landed too, the same match settled twice (here: the second reverted, paid for). A second
pooled row was given up at once (the nudge spent). Real anvil, a real node restarted on a
store holding the row."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg63_replaced_restart import OPERATOR, stored_pair
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)

GAP = 2


@pytest.mark.parametrize("rows", [1, 2])
async def test_rows_pooled_behind_a_gap_at_a_restart_land_once(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: int,
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = anvil_chain
    cfg, store, resting, incoming, data = stored_pair(c, tmp_path)
    operator, to = c.sender(OPERATOR), c.exchange.address
    count = int(c.rpc.call("eth_getTransactionCount", operator.address, "latest"), 16)
    base = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    orders = [(resting, incoming, data)]
    if rows == 2:  # (a second pair, its settlement at the next nonce)
        more = (
            c.sign(ask(c, ALICE, E18, 3000 * E6, salt=31)),
            c.sign(bid(c, BOB, E18, 3000 * E6, salt=32)),
        )
        store.add_order(more[0], 3, "open", "api")
        store.add_order(more[1], 4, "open", "api")
        orders.append((*more, c.exchange.encode_settlement([(*more, E18)])))
    pooled = []
    for k, (r, i, d) in enumerate(orders):
        tx = operator.sign_at(count + GAP + k, to, d, 400_000, fees=(base, 10**9))
        pairs = [(r.hash_hex, i.hash_hex)]
        await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
        pooled.append(tx)
    store.close()
    for tx in pooled:  # (behind nonces count, count + 1)
        c.rpc.call("eth_sendRawTransaction", tx.raw)
    async with running_node(cfg) as (node, api):
        s = node.settler

        async def filled() -> bool:
            statuses = {await api.status(o) for r, i, _ in orders for o in (r, i)}
            return statuses == {"filled"} and s.idle.is_set()

        await wait_for(filled, timeout=30)
        await synced(node, c)
        for r, _, _ in orders:
            assert c.exchange.order_info(r.order).filled == E18
        assert s.sent == 0 and s.failed == 0  # (before: matched again, a second settlement)
        db = node.config.db
    with sqlite3.connect(db) as conn:
        status = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    # (each landed as signed, or as its replacement at higher fees; none given up)
    assert sorted(status.values()).count("mined") == rows, status
