"""nonce75: a settlement the chain refuses as "Nonce too high" is signed again at its count.

A refusal for a nonce past the chain's count says the chain did not take the transaction
(Hardhat while it automines: "transactions can't be queued"): it cannot land unless sent
again. The settler took only "too low" for a refusal and any other answer for a fate
unknown: the settlement was awaited, found unknown to the chain and counted lost, its
matches failed and the wallet's IOC never traded. A lane's nonce runs past the chain's count
when blocks holding its settlements are undone before the watcher has seen it (a devnet's
``evm_revert``, a reorg between two polls); the watcher here polls once a minute. Real
Hardhat, a real node and SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chainnode import Engine
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


@pytest.fixture(autouse=True)
def hardhat_only(engine: Engine) -> None:
    if engine == "anvil":
        pytest.skip("Hardhat only: anvil queues a transaction past the count, never refuses it")


async def test_a_settlement_refused_as_nonce_too_high_is_signed_again_and_settles(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
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
        count = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
        assert known is not None and count < known  # nonce is past the chain's count)
        ended = s.settled + s.lost + s.failed
        again = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=7))
        other = c.sign(bid(c, BOB, E18, 3000 * E6, salt=8))
        assert (await api.post_order(again))[0] == 201
        code, body = await api.post_order(other, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body
        await wait_for(lambda: s.settled + s.lost + s.failed > ended, timeout=30)
        assert s.lost == 0 and s.failed == 0, (s.lost, s.failed)  # (was lost)
        assert s.nonce_refusals >= 1
        assert await api.status(other) == "filled"
        mined = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
        assert mined == count + 1
