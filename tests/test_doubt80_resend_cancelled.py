"""doubt80: a settlement's bytes the chain dropped are not sent again once an order of it is
cancelled.

held79 asks a settlement's ``unsendables`` right before its first send (an order of it
soft-cancelled, expired or filled meanwhile: its cancel goes instead), and ``_over_gap``
asks it before its resend. The wait's sends of its bytes again (the chain asked does not
know them: lost78's ``keep``, ``NonceLane._keep_alive``) did not: bytes the chain had dropped
went again after a maker's soft cancel was acknowledged, and the cancelled order was filled.
Now that resend asks it too, and the cancel goes instead. Real Hardhat, the node's settler
with its own SQLite store, a real proxy on loopback dropping the settlement's sends
(``tests.rpcfault.dropping_proxy``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sdex.chain import Rpc
from sdex.matching.match import Match
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import dropping_proxy
from tests.test_count77_lied_count import counts
from tests.test_settlement_fallback import pair, running_settler


async def test_bytes_the_chain_dropped_are_not_sent_again_after_a_cancel(
    chain: Chain, tmp_path: Path
) -> None:
    """A settlement whose sends the endpoint drops (the chain never knows it); its wait sends
    its bytes again. An order of it is soft-cancelled, then the endpoint takes sends again:
    its cancel takes the nonce, its bytes are not sent again, its match fails counted against
    neither order (before: its bytes sent again, mined, the cancelled order filled: failed
    3 of 3)."""
    drop, cancelled = [True], [False]

    def settlement(raw: str) -> bool:  # (a transfer of nothing is ~110 bytes: passed on)
        return drop[0] and len(raw) > 400

    def withdrawn(batch: Sequence[Match]) -> Mapping[int, str]:
        return {i: "cancelled" for i in range(len(batch))} if cancelled[0] else {}

    with dropping_proxy(chain.rpc.url, settlement) as (url, dropped):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            s.withdrawn = withdrawn
            operator = s.sender.address
            before = counts(chain, operator)
            m = pair(c, 0)
            s.submit([m])
            await wait_for(lambda: len(dropped) >= 2, 30)  # (sent, and again by its wait)
            (tx,) = s.in_flight
            cancelled[0] = True  # (a soft cancel of its maker's, acknowledged)
            drop[0] = False  # (the endpoint takes sends again: its bytes would land now)
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 60)
            r = results[0]
            assert r.outcome is Outcome.FAILED and r.nonce_taken, r
            assert r.reason.startswith("not sent again (an order of it"), r.reason
            assert s.cancelled == 1
    assert chain.rpc.call("eth_getTransactionReceipt", tx) is None
    assert counts(chain, operator) == (before[0] + 1,) * 2  # (the cancel, at its nonce)
    assert chain.exchange.order_info(m.resting.order).filled == 0
