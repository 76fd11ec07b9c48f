"""review77a: the nonces gap76 fills under a settlement pooled past the chain's count are not
the lane's next ones any more: the lane's nonce, known and among them, is read again.

gap76's order of events (the watcher polling once a minute) has the lane's nonce past the
stuck settlement's when the gap is filled. A node whose watcher polls (50 ms by default)
sees the rewind first: ``undone`` forgets the nonce, the next match is signed at the chain's
pending count (the gap's first nonce: anvil counts no pooled transaction past a gap), and the
lane's nonce is then the one after it, inside the gap. A second later the stuck settlement's
wait fills the rest of the gap, and the lane's next settlement was signed at a nonce a
transfer of nothing had just taken: on a chain that mines on the send refused "nonce too
low" and signed again (a round of its own); on one that pools it, at the filler's own fees,
refused "replacement transaction underpriced", counted lost, its matches failed and the
wallet's IOC never traded. Real anvil, a real node, its own sender and lane."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)


@pytest.mark.parametrize("mines_on_send", [True, False])
async def test_a_gap_filled_past_the_lanes_nonce_has_it_read_again(
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
        base, tip = await s.fees.current(s.receipts)
        # The rewind seen (``undone``): the lane's next signature at the count, mined; its
        # nonce now count + 1. A settlement signed before the rewind sits at count + 3.
        s.undone()
        first = await s._sign_next(operator, b"", 30_000)
        assert first.nonce == count
        c.rpc.call("eth_sendRawTransaction", first.raw)
        assert s.sender.next_nonce == count + 1
        stuck = s.sender.sign_at(count + 3, operator, b"", 30_000, fees=(base, tip))
        c.rpc.call("eth_sendRawTransaction", stuck.raw)
        if not mines_on_send:  # (the fillers pooled as the lane's next settlement goes)
            c.rpc.call("evm_setAutomine", False)
        try:
            assert await s._fill_gap(stuck, None) is True  # (count + 1 and count + 2)
            assert s.gap_fills == 2
            resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
            assert (await api.post_taken(resting))[0] == 201
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            code, body = await api.post_taken(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            await wait_for(lambda: s.sent >= 1 and not s.sends, timeout=20)
        finally:
            c.rpc.call("evm_setAutomine", True)
        await wait_for(lambda: s.settled + s.lost + s.failed >= 1, timeout=30)
        assert s.lost == 0 and s.failed == 0, (s.lost, s.failed)
        assert s.nonce_refusals == 0  # (before: signed at count + 1, a filler's)
        assert await api.status(taker) == "filled"
        mined = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
        assert mined == count + 5  # (first, two fillers, stuck, the settlement)
