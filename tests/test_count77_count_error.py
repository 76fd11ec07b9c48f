"""count77: a nonce read that fails (a timeout, an answer that is no count) gives the batch
back unsent, as a failed send that changes nothing.

The lane reads its next nonce before it signs (``SigningLane._count``). Only its
``ChainReplaced``/``ChainUnproven`` were caught as "nothing signed"; any other error came out
of the settler's ``_settle`` to ``_settle_or_fail``'s chain outage: each match reported
failed as if it had been sent, its orders diagnosed from the chain, and, no one guilty, a
failure counted against both (suspect from then on: pre-flighted and sent alone; removed at
``MAX_SETTLE_FAILURES`` with blame), the traceback logged as "settlement failed". Now
``NotSigned``: the batch back unsent, its orders matched again, nothing counted against
them. Real Hardhat behind a loopback proxy answering the count read once as the case says,
a real node (and the node's settler with a short client timeout for the timeout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.countfault import count_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_settlement_fallback import pair, running_settler


@pytest.mark.parametrize("fault", ["garbage", "badjson", "error"])
async def test_a_failed_nonce_read_counts_against_no_order(
    chain: Chain, tmp_path: Path, fault: str
) -> None:
    c = chain
    with count_proxy(c.rpc.url) as (url, script):
        cfg = node_config(c, tmp_path / "n.db", new_heads=False, rpc=url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            await synced(node, c)
            s.sender.forget_nonce()
            script.steps = [fault]
            script.armed.set()
            maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await api.post_order(maker))[0] == 201
            code, body = await api.post_order(taker)
            assert code == 201 and len(body["matches"]) == 1, body

            async def filled() -> bool:
                return await api.status(maker) == "filled" and await api.status(taker) == "filled"

            await wait_for(filled, timeout=30)  # (given back unsent, matched again)
            assert script.reads >= 2 and not script.steps
            for h in (maker.hash, taker.hash):  # (before: 1 each, suspect from then on)
                assert node.records[h].failures == 0
            assert s.settled == 1 and s.failed == 1 and s.lost == 0


async def test_a_nonce_read_that_times_out_is_a_batch_given_back_unsent(
    chain: Chain, tmp_path: Path
) -> None:
    number = chain.deployment.deploy_block
    block = chain.rpc.call("eth_getBlockByNumber", hex(number), False)
    view = (number, str(block["hash"]), 0)
    with count_proxy(chain.rpc.url) as (url, script):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path, rpc_timeout=1.0) as (s, results):
            s.async_sends.view = lambda: view
            script.steps = [("hold", 3.0)]
            script.armed.set()
            s.submit([pair(c, 0)])
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 30)
            (r,) = results
            assert r.outcome is Outcome.FAILED and r.unsent and r.tx_hash is None, r
            assert "nonce not read" in r.reason, r.reason
            s.submit([pair(c, 1)])  # (the next read answered: signed, mined)
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 30)
            assert results[1].outcome is Outcome.SETTLED, results[1]
