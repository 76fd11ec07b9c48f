"""gap76: a settlement a chain queues behind a gap in the lane's nonces (anvil, geth) lands:
the gap is filled by transfers of nothing.

When blocks holding the lane's settlements are undone before the watcher sees it (a reorg
between two polls, a devnet's ``evm_revert``), the lane's next settlement is signed at a
nonce past the chain's count. Hardhat refuses it ("Nonce too high": signed again at the
count, nonce75); anvil and geth keep it pooled behind the gap and mine it once the count
comes to it. Before, the lane's replace-by-fee signed it again at rising fees, which cannot
help, and it was counted lost at ``RECEIPT_TIMEOUT`` (the gap's own filler refused: "an
earlier gap"), its matches failed and the wallet's IOC never traded. Real anvil, a real node
whose watcher polls once a minute, SQLite."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)


async def test_a_settlement_queued_past_the_chains_count_lands_the_gap_filled(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
) -> None:
    c = anvil_chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, poll_interval=60.0)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        s = node.settler
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        assert (await api.post_order(maker))[0] == 201
        code, body = await api.post_order(taker, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body
        await settled(c, node, api, taker)  # (its receipt woke the watcher: applied)
        operator = node.sender.address
        known = s.sender.next_nonce
        revert(c, snap)  # (the settlement undone, the watcher not polling: the lane's
        count = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
        assert known is not None and count < known  # nonce is past the chain's count)
        ended = s.settled + s.lost + s.failed
        again = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=7))
        other = c.sign(bid(c, BOB, E18, 3000 * E6, salt=8))
        assert (await api.post_order(again))[0] == 201
        code, body = await api.post_order(other, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body
        await wait_for(lambda: s.settled + s.lost + s.failed > ended, timeout=30)
        assert s.lost == 0 and s.failed == 0, (s.lost, s.failed)
        assert await api.status(other) == "filled"
        assert s.gap_fills == known - count  # (one transfer of nothing a missing nonce)
        assert s.replaced == 0  # (before: signed again at rising fees, which cannot help)
        mined = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
        assert mined == known + 1
