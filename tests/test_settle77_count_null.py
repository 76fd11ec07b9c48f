"""settle77: a null answer for the view's block in the lane's nonce read proves nothing.

The lane reads its count in one request with the node's view's block (``_count``, settle74:
signed at a count of another chain, the old chain's match was mined there). One answer that
was no block (null: a backend behind a balancer still below that block, lagging) was taken
as "the chain behind the URL is not the one it was signed for": the batch went back unsent,
the node paused its settlements and said the chain was replaced. left76 made the same rule of
``AsyncSends.on_chain``: a null proves nothing, a second read is asked. Real chain of the
suite's engine behind a loopback proxy answering null for that block once, inside the count's
batch (``tests/rpcfault.nulling_proxy``), the node's settler."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import nulling_proxy
from tests.test_settlement_fallback import pair, running_settler


@pytest.mark.parametrize("nulls", [1, 2])
async def test_a_null_for_the_views_block_in_the_nonce_read_is_read_again(
    chain: Chain, tmp_path: Path, nulls: int
) -> None:
    number = chain.deployment.deploy_block
    block = chain.rpc.call("eth_getBlockByNumber", hex(number), False)
    view = (number, str(block["hash"]), 0)
    with nulling_proxy(chain.rpc.url, number, in_batch=True, times=nulls) as (url, told):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (settler, results):
            settler.async_sends.view = lambda: view
            first = pair(c, 0)
            settler.submit([first])
            await wait_for(lambda: settler.idle.is_set() and len(results) == 1, 30)
            if nulls == 1:  # (read again: the second answer holds the view)
                (r,) = results
                assert told[0] == 1
                assert r.outcome is Outcome.SETTLED, r  # (before: unsent, "not the one")
                return
            # twice: nothing proven either way, nothing signed (given back unsent)
            (r,) = results
            assert told[0] == 2
            assert r.outcome is Outcome.FAILED and r.unsent and r.tx_hash is None, r
            assert "replaced" not in r.reason and "not the one" not in r.reason, r.reason
