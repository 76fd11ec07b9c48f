"""settle77: a settlement refused "nonce too high" is sent again as signed, the nonces below
it filled first: never its matches signed again at another nonce.

Behind a balancer, a send can reach two backends: the one that took it (its answer lost on
the way back) and one that lags, retried, which says "nonce too high" (its count is below the
lane's) and does not know the transaction's hash. nonce75's rule took "too high" with the
hash unknown for "not taken": the same matches were signed again at the chain's count, and
both transactions were mined, the same matches settled twice (here the second reverts, paid;
with a rest left, filled again). The bytes the chain was sent may land whatever one backend
says, so they are sent again as they are, after the nonces below them the chain holds
nothing of are filled by transfers of nothing (as ``sdex.settlement.gap`` does for one a
chain pools past its count). Real Hardhat behind a real balancer on loopback whose second
backend is a second Hardhat node (its operator's count 0), the node's settler."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.chainnode import Engine
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import retrying_balancer
from tests.test_reconcile77_too_high import lagging
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settlement_fallback import OPERATOR, pair, running_settler

__all__ = ["lagging"]  # (reconcile77's fixture: the worker's lagging node, reverted after)


@pytest.fixture(autouse=True)
def hardhat_only(engine: Engine) -> None:
    if engine == "anvil":
        pytest.skip("Hardhat only: anvil queues a transaction past the count, never refuses it")


async def test_a_send_refused_too_high_by_a_lagging_backend_settles_its_matches_once(
    chain: Chain, tmp_path: Path, lagging: Rpc
) -> None:
    number = chain.deployment.deploy_block
    block = chain.rpc.call("eth_getBlockByNumber", hex(number), False)
    view = (number, str(block["hash"]), 0)
    with retrying_balancer(chain.rpc.url, lagging.url) as (url, balancer):
        c = chain_of(Rpc(url), chain.deployment)
        operator = c.address(OPERATOR)
        async with running_settler(c, tmp_path) as (settler, results):
            settler.async_sends.view = lambda: view
            settler.submit([pair(c, 0)])  # (the operator's count on the chain past 0)
            await wait_for(lambda: settler.idle.is_set() and len(results) == 1, 30)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            before = nonce(chain.rpc, operator)
            assert nonce(lagging, operator) < before
            balancer.armed.set()
            second = pair(c, 1)
            settler.submit([second])
            await wait_for(lambda: settler.idle.is_set() and len(results) == 2, 30)
            assert balancer.retried, "the send went to both backends"
            assert "too high" in str(balancer.retried[0]).lower(), balancer.retried
            r = results[1]
            assert r.outcome is Outcome.SETTLED, r
            assert settler.nonce_refusals >= 1
        assert nonce(chain.rpc, operator) == before + 1  # (before: 2, the matches signed again)
        assert c.exchange.order_info(second.resting.order).filled > 0
