"""review69a: a slim backlog batch that runs out of gas (mined, reverted whole: nothing of it
paid) goes again at once in parts with the fallback's room (``Settler._fly``). Its matches
stayed in the settler's ``SignedOut`` from the reverted signature, so the funds check of each
part (``sdex.node.funding.unpaid``, funds67's totals: the matches signed ahead) counted the
part ahead of itself: every maker whose funds pay her matches once, not twice, was found
short and her matches withdrawn as unpaid, never signed. Now a batch that ran out leaves
``SignedOut`` before its parts are signed.

Real Hardhat, the node's settler with its own SQLite store, its funds check the node's
(``unpaid`` over a mirror that holds each maker's funds: exactly what her matches pay)."""

from __future__ import annotations

from pathlib import Path

from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.node.funding import unpaid
from sdex.settlement import Outcome
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import pair, running_settler


def funds_of(backlog: list[Match]) -> dict[tuple[str, str], int]:
    """What each maker pays in ``backlog``, by (maker, token)."""
    out: dict[tuple[str, str], int] = {}
    for m in backlog:
        for so, amount in ((m.resting, m.left_filled), (m.incoming, m.right_filled)):
            key = (so.order.maker, so.order.maker_token)
            out[key] = out.get(key, 0) + amount
    return out


async def test_a_batch_out_of_gas_is_not_counted_ahead_of_its_parts(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cap = 4_060_000  # (test_settlement_fallback's slim batch: 50 run out, 25 + 25 again)
    backlog = [pair(c, k) for k in range(50)]
    mirror = Mirror(c.exchange, [c.weth.address, c.usdc.address])
    for account, amount in funds_of(backlog).items():
        mirror.set_funds(account, amount, amount)  # (each maker pays hers once)
    async with running_settler(c, tmp_path, max_batch=16, cap=cap) as (settler, results):
        settler.unpaid = lambda batch: unpaid(batch, settler.signed_out, mirror, lambda _: 0)
        settler.gas.seen = 50_000  # as if taught by much cheaper matches: the slim one runs out
        assert settler.batch_size(len(backlog)) == 50
        settler.submit(backlog)
        await wait_for(lambda: settler.idle.is_set() and len(results) == 50, timeout=120.0)
        assert settler.gas.slim_out_of_gas == 1
        assert settler.withdrawn_matches == 0  # before: every match of the parts withdrawn
        assert {r.outcome for r in results} == {Outcome.SETTLED}
        assert not settler.signed_out and not settler.signed_out.pays
