"""peers93: a reorg takes back the credit of review92's pair from the id it was given to.

stand92's rule (``readbudget.paid_here``): of a match one fill of which paid this node, the
other side's pusher is credited (the order the payer took), the payer's only if no peer
delivered that one. The credit and its taking back must pick the same side: a reorg that
picked the payer's id would take back nothing (that id had no credit in the block) and leave
the taken order's id its standing for the hour. Before peers93 the two looked the orders up
differently (the credit in memory only, the reorg in memory or the store), so a trade whose
taken order was not in memory at credit time credited the payer's id and its reorg took from
the other's; now both read ``NodeChainState._paid_sources``.

A real node on a real Hardhat: the sybil's id 1 pushes CAROL's ask, its id 2 DAVE's crossing
bid paying this node's fee (``charging``); the test matches them on the chain after an
``evm_snapshot`` (the node matches no two peers' orders), the chain taken back onto a longer
branch (``reorgutil.reorged``), then the settlement sent again; with the two orders' records
in memory, evicted from it (``forgotten``) before the reorg, or the node restarted on its
store between the trade and the reorg (its standing restored with no blocks)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdex.gossip.standings import TRADED_SECONDS, restored
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import forgotten, raw_tx_of, reorg, reorged
from tests.test_checks75_held_reads import HONEST, done, push, rested
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_peers80_paid_credit import settled_seen
from tests.test_review92_one_fee_two_ids import SYBIL_ASK, SYBIL_BID
from tests.test_sybil78_traded_first import OPERATOR, charging, fee_of


@pytest.mark.parametrize("between", ["held", "evicted", "restarted"])
async def test_a_reorg_takes_back_the_credit_of_a_pair_both_pushed(
    chain: Chain, tmp_path: Path, between: str
) -> None:
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db", OPERATOR))
    sell = c.sign(ask(c, CAROL, E18, 3100 * E6))
    buy = c.sign(bid(c, DAVE, E18, 3100 * E6, **fee_of(c, E18)))
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        for key, signed in ((SYBIL_ASK, sell), (SYBIL_BID, buy)):
            task = push(g, key, signed)
            await wait_for(done(task), 30)
            assert task.result()["accepted"] == 1, task.result()
        await synced(node, c)
        snap = str(c.rpc.call("evm_snapshot"))
        receipt = c.exchange.match_orders(c.sender(CAROL), sell, buy)
        assert receipt.status == 1
        raw = raw_tx_of(c, receipt.tx_hash)
        await settled_seen(node, api, 2)
        await wait_for(lambda: g.peers.standing(SYBIL_ASK).traded == 1, 60)
        assert g.peers.standing(SYBIL_BID).traded == 0  # (one fee, one id: review92)
        if between == "evicted":
            node.registry.grace = 0.0
            await forgotten(node, sell)
            await forgotten(node, buy)
        if between != "restarted":
            await reorged(c, node, snap)
            await wait_for(lambda: not g.peers.has_traded(SYBIL_ASK), 30)
            assert g.peers.standing(SYBIL_ASK).traded == 0
            assert g.peers.standing(SYBIL_BID).traded == 0
            c.rpc.call("eth_sendRawTransaction", raw)  # (mined again: credited again)
            await wait_for(lambda: g.peers.standing(SYBIL_ASK).traded == 1, 60)
            assert g.peers.standing(SYBIL_BID).traded == 0
            return
    async with running_node(cfg) as (node, api):  # (the standings read back, no blocks)
        g = node.gossip
        assert g is not None
        now = time.monotonic()
        assert now - g.peers.standing(SYBIL_ASK).traded_at <= TRADED_SECONDS
        assert now - g.peers.standing(SYBIL_BID).traded_at > TRADED_SECONDS
        await reorged(c, node, snap)

        def withdrawn() -> bool:
            return time.monotonic() - g.peers.standing(SYBIL_ASK).traded_at > TRADED_SECONDS

        await wait_for(withdrawn, 30)
        c.rpc.call("eth_sendRawTransaction", raw)
        await wait_for(lambda: g.peers.standing(SYBIL_ASK).traded == 1, 60)
        assert g.peers.standing(SYBIL_BID).traded == 0


@pytest.mark.parametrize(
    ("after", "undone", "traded_at", "taken"),
    [
        ([], {8}, 5.0, False),  # (a block above the saved head it had no credit in: kept)
        ([9], {8, 9}, 5.0, True),  # (the later trade undone, the restored one stands)
        ([9], {7, 8, 9}, float("-inf"), True),  # (a block at or below it: taken back)
        ([], {6}, float("-inf"), True),
    ],
)
def test_a_restored_standing_keeps_its_trade_through_a_reorg_of_blocks_it_had_none_in(
    after: list[int], undone: set[int], traded_at: float, taken: bool
) -> None:
    """A standing restored at a start that resumed from saved head 7 (its last trade at
    clock time 5, in a block at most 7), then credits at clock time = block number; a
    reorg undoes ``undone`` (blocks in which it had paid fills). Before: any block not among
    its credits took the restored trade back (8 above: traded_at -inf)."""
    s = restored(1, 0.0, 0.0, 0.0, 5.0, below=7)
    for b in after:
        s.credit(b, float(b))
    assert s.uncredit(undone) is taken
    assert s.traded_at == traded_at


async def test_a_reorg_while_the_node_was_down_takes_back_the_restored_standing(
    chain: Chain, tmp_path: Path
) -> None:
    """The trade credited (the honest peer's ask taken by a wallet's paying bid), the node
    stopped, the chain taken back past the trade while it is down: the start's catch-up
    finds the reorg and takes the restored standing back (before: the standings were
    restored after the catch-up, so its reorg found none, and the peer kept its standing
    for the rest of the hour on a trade the chain no longer has)."""
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db"))
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await rested(g, c.sign(ask(c, ALICE, E18, 3100 * E6)))
        await synced(node, c)
        snap = str(c.rpc.call("evm_snapshot"))
        await api.post_matched(c.sign(bid(c, BOB, E18, 3100 * E6, **fee_of(c, E18))))
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 60)
        await synced(node, c)
    reorg(c, snap)  # (while down)
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await synced(node, c)
        _, fills = await api.get("/v1/fills")
        assert fills["records"] == [], fills  # (the start's catch-up undid the fill)
        assert time.monotonic() - g.peers.standing(HONEST).traded_at > TRADED_SECONDS
