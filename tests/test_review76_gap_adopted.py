"""review76: the nonces gap76 fills under a settlement pooled past the chain's count skip
those of the lane's own settlements in flight, a previous run's adopted one too.

An adopted settlement (``Settler.adopt``: left pooled by a previous run) is in flight but
was not in ``signed_views``, the lane's list of its signatures that ``_fill_gap`` takes
the in-flight nonces from: a gap below a stuck settlement that held it was filled over it,
a transfer of nothing at its nonce at the fees of now (its matches displaced, their fills
lost; at lower fees, refused). Real anvil (it pools a transaction past the count), a real
node, its own sender and lane."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_mirror import synced
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)


async def test_a_gap_is_not_filled_over_an_adopted_settlement_in_flight(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
) -> None:
    c = anvil_chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, poll_interval=60.0)
    async with running_node(cfg) as (node, _api):
        s = node.settler
        await synced(node, c)
        operator = s.sender.address
        count = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
        base, tip = await s.fees.current(s.receipts)
        # A previous run's settlement at count + 1, pooled behind the gap at count (its
        # fees lower than now's), adopted; this run's at count + 2, stuck behind both.
        adopted = s.sender.sign_at(count + 1, operator, b"", 30_000, fees=(base // 2, tip))
        stuck = s.sender.sign_at(count + 2, operator, b"", 30_000, fees=(base, tip))
        for t in (adopted, stuck):
            c.rpc.call("eth_sendRawTransaction", t.raw)
        s.adopt(adopted, [])
        assert await s._fill_gap(stuck, None) is False  # (its own wait decides the gap)
        assert s.gap_fills == 0
        held = c.rpc.call("eth_getTransactionByHash", adopted.tx_hash)
        assert held is not None and held.get("blockNumber") is None  # (still pooled)
