"""settle77: a settlement displaced on the chain that replaced the one it was signed for is
lost through no order's fault: its matches' failure counts against neither order.

An old chain's settlement sent to the chain that replaced it before the watcher saw it sits
pooled there ahead of that chain's count (anvil, geth); the lane displaces it by a transfer of
nothing at its nonce (``sdex.settlement.stale``, settle74), and it is then lost. Its matches
came back failed as any lost settlement's, and the node, finding neither order at fault,
counted a failure against both (pre-flighted from then on, sent alone; past
``MAX_SETTLE_FAILURES`` with blame, removed): the node's own doing, as a nonce taken at every
try is (``nonce_taken``: no failure counted, attack28). Real anvil (it keeps a nonce ahead of
the count pooled), the node's settler; the lane's nonce set ahead of the chain's count as the
old chain's would be, and the view moved after the send as the watcher's reset moves it."""

from __future__ import annotations

from pathlib import Path

from sdex.settlement import Outcome
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle74_replace_signed_view import AHEAD
from tests.test_settlement_fallback import OPERATOR, pair, running_settler
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)


async def test_a_displaced_settlement_counts_against_neither_order(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
) -> None:
    c = anvil_chain
    block = c.rpc.call("eth_getBlockByNumber", hex(c.deployment.deploy_block), False)
    views = [(c.deployment.deploy_block, str(block["hash"]), 0)]
    operator = c.address(OPERATOR)
    count = nonce(c.rpc, operator)
    async with running_settler(c, tmp_path) as (settler, results):
        settler.async_sends.view = lambda: views[-1]
        settler.sender.learn_nonce(count + AHEAD)  # (the old chain's count)
        settler._nonce_view = views[-1]  # (learned in this view: review74a reads it again else)
        old = pair(c, 0)
        settler.submit([old])
        await wait_for(lambda: settler.sent == 1 and not settler.sends, timeout=30)
        views.append((views[0][0], views[0][1], 1))  # the watcher's reset seen
        settler.sender.forget_nonce()  # (as the reset leaves it: read again)
        new = [pair(c, k) for k in range(1, AHEAD + 1)]  # (the lane's own, up to its nonce)
        for m in new:  # (one a transaction)
            settler.submit([m])
            await wait_for(lambda m=m: any(r.match is m for r in results), timeout=30)  # type: ignore[misc]
        assert len(settler.displaced) == 1
        await wait_for(lambda: any(r.match is old for r in results), timeout=60)
    (r,) = [r for r in results if r.match is old]
    assert r.outcome is Outcome.FAILED and not r.unsent, r
    assert r.nonce_taken, r  # (before: counted against both orders)
    assert c.exchange.order_info(old.resting.order).filled == 0
