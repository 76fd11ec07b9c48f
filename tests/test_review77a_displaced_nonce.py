"""review77a: the lane's settlements step over the nonce of a replaced chain's settlement
that settle74 displaced on the new chain: the lane's nonce is read again when it comes to it.

After a reset the lane's nonce is read on the new chain (``NonceLane._count``); the old
chain's settlements sent there before the watcher saw the reset sit pooled ahead of that
count (anvil, geth) and are displaced by transfers of nothing at their nonces
(``sdex.settlement.stale``). The lane's own settlements then counted up from the new chain's
count to a displaced nonce and signed a settlement at it: on a chain that mines on the send
refused "nonce too low" (the displacing transfer mined with the one below), signed again; on
one that pools them, "replacement transaction underpriced" beside the displacing transfer
(its fees above the lane's), counted lost, its match failed, the wallet's IOC never traded.
Real anvil, a real node, its own sender and lane; the stale settlement is one the lane
signed under another view of the chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)

TRADES = 3


@pytest.mark.parametrize("mines_on_send", [True, False])
async def test_the_lane_steps_over_a_displaced_nonce(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
    mines_on_send: bool,
) -> None:
    c = anvil_chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, poll_interval=60.0)
    async with running_node(cfg) as (node, api):
        s = node.settler
        await synced(node, c)
        operator = s.sender.address
        count = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
        view = s.async_sends.viewed()
        assert view is not None
        base, tip = await s.fees.current(s.receipts)
        # The old chain's settlement, pooled here past the count: signed under another view.
        stale = s.sender.sign_at(count + TRADES - 1, operator, b"", 30_000, fees=(base, tip))
        c.rpc.call("eth_sendRawTransaction", stale.raw)
        s.signed_views[stale.tx_hash] = ((view[0], view[1], view[2] - 1), stale)
        s.in_flight.add(stale.tx_hash)
        s.ours.add(stale.tx_hash)
        s.sender.forget_nonce()  # (the reset: read on the new chain, displacing it first)
        takers = []
        if not mines_on_send:
            c.rpc.call("evm_setAutomine", False)
        try:
            for k in range(TRADES):
                resting = c.sign(ask(c, ALICE, E18 // 10, 300 * E6, salt=100 + k))
                assert (await api.post_taken(resting))[0] == 201
                taker = c.sign(bid(c, BOB, E18 // 10, 300 * E6, salt=200 + k))
                code, body = await api.post_taken(taker, "ioc")
                assert code == 201 and len(body["matches"]) == 1, body
                takers.append(taker)
                await wait_for(lambda k=k: s.sent + s.nonce_refusals > k and not s.sends, 20)
            assert stale.tx_hash in s.displaced
        finally:
            c.rpc.call("evm_setAutomine", True)
        await wait_for(lambda: s.settled + s.lost + s.failed >= TRADES, timeout=40)
        assert s.lost == 0 and s.failed == 0, (s.lost, s.failed)
        assert s.nonce_refusals == 0  # (before: one signed at the displaced nonce)
        for taker in takers:
            assert await api.status(taker) == "filled"
