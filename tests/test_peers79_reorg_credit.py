"""peers79: a trade a reorg undid no longer ranks the peer that delivered its order first
(``readbudget.uncredit_trades``, ``Peers.untraded``); mined again, it does again.

sybil78 credited a peer whose delivered order traded an hour ranked first (``leading``), and
a reorg that took the fill back kept the credit: a trade the chain no longer has held a
place against sybils that came first.

A real node on a real Hardhat: the honest peer's pushed ask taken by a wallet's bid that
pays the node's fee (``charging``; peers80), matched and settled by the node, after an
``evm_snapshot``; the chain taken back onto a longer branch (``reorgutil.reorged``), then
the settlement sent again."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.gossip.standings import MAX_DELIVERED, Standing
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import raw_tx_of, reorged
from tests.test_checks75_held_reads import HONEST, done, push
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_sybil78_traded_first import BAR, TOP, charging, fee_of, sybil


async def test_a_reorged_out_trade_takes_its_credit_back(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(charging(c, node_config(c, tmp_path / "n.db"))) as (node, api):
        g = node.gossip
        assert g is not None
        for k in range(TOP):  # (sybils at the cap, since before the honest peer came)
            task = push(g, sybil(k), c.sign(ask(c, BOB, E18 + k, (4000 + k) * E6)))
            await wait_for(done(task), 30)
            assert task.result()["accepted"] == 1, task.result()
            g.peers.standing(sybil(k)).delivered_at -= 100.0
        resting = push(g, HONEST, c.sign(ask(c, ALICE, E18, 3100 * E6)))
        await wait_for(done(resting), 30)
        assert resting.result()["accepted"] == 1, resting.result()
        assert g.peers.standing(HONEST).delivered == MAX_DELIVERED
        snap = c.rpc.call("evm_snapshot")
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3100 * E6, **fee_of(c, E18))))
        assert code == 201 and len(body["matches"]) == 1, body
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 60)
        assert HONEST in g.peers.leading(TOP, BAR)
        _, fills = await api.get("/v1/fills")
        (tx,) = {f["transactionHash"].lower() for f in fills["records"]}
        raw = raw_tx_of(c, tx)
        await reorged(c, node, snap)
        await wait_for(lambda: g.peers.standing(HONEST).traded == 0, 30)  # (before: kept)
        assert HONEST not in g.peers.leading(TOP, BAR)
        c.rpc.call("eth_sendRawTransaction", raw)  # (mined again: credited again)
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 60)
        assert HONEST in g.peers.leading(TOP, BAR)


@pytest.mark.parametrize(
    ("blocks", "undone", "traded_at", "traded"),
    [
        ([5, 6, 7], {7}, 6.0, 2),  # (the last block's credit taken back)
        ([5, 6, 7], {6, 7}, 5.0, 1),
        ([5, 6, 7], {8}, 7.0, 3),  # (a block it had no credit in: nothing)
        ([5], {5}, float("-inf"), 0),  # (never traded before it)
        (list(range(1, 12)), set(range(4, 12)), 3.0, 3),  # (past CREDITS_KEPT: its floor)
    ],
)
def test_uncredit_takes_back_the_undone_blocks(
    blocks: list[int], undone: set[int], traded_at: float, traded: int
) -> None:
    """Credits at clock time = block number; a reorg undoes ``undone``."""
    s = Standing()
    for b in blocks:
        s.credit(b, float(b))
    s.uncredit(undone)
    assert (s.traded_at, s.traded) == (traded_at, traded)
