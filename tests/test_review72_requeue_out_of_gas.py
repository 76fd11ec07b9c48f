"""review72: a slim backlog batch that runs out of gas (mined, reverted whole) goes again in
parts with the fallback's room (``Settler._fly``). Before, the parts were cut from the batch
as it was taken, not as it was signed: a match held back at its signature (hold70: queued
again, ``_requeue``) went again in a part as well as from the queue, signed twice (its second
settlement skipped, the match reported twice); and one withdrawn on the way (its result given
back unsent, e.g. one its diagnosis found at fault: ``_doomed``, said once) was never
reported, judged again in its part, and signed.

Real Hardhat, the node's settler with its own SQLite store (``running_settler``); the node's
hold and withdrawal as the settler asks them: held at the first signature only, withdrawn at
the second look only (the doomed are popped once)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

from sdex.matching.match import Match
from sdex.settlement import Outcome, SettledMatch
from sdex.settlement.settler import Settler
from sdex.settlement.take import DOOMED_WHY
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import pair, running_settler

CAP = 4_060_000  # (test_settlement_fallback's slim batch: 50 run out, 25 + 25 again)


async def slim_out_of_gas(
    settler: Settler, results: list[SettledMatch], backlog: list[Match]
) -> None:
    """``backlog`` (50 matches) sent as one slim batch that runs out of gas (its parts go
    again), until all are reported."""
    settler.gas.seen = 50_000  # as if taught by much cheaper matches: the slim one runs out
    assert settler.batch_size(len(backlog)) == 50
    settler.submit(backlog)
    await wait_for(lambda: settler.idle.is_set() and len(results) >= 50, timeout=120.0)
    assert settler.gas.slim_out_of_gas == 1


async def test_a_batch_out_of_gas_goes_again_as_signed_each_match_once(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    looks = {"held": 0, "withdrawn": 0}
    backlog = [pair(c, k) for k in range(50)]
    held_one, doomed = backlog[7], backlog[30]

    def held() -> AbstractSet[bytes]:  # (1: as the batch forms; 2: at its signature)
        looks["held"] += 1
        return frozenset({held_one.resting.hash}) if looks["held"] == 2 else frozenset()

    def withdrawn(batch: Sequence[Match]) -> Mapping[int, str]:
        looks["withdrawn"] += 1
        if looks["withdrawn"] != 2:
            return {}
        return {i: DOOMED_WHY for i, m in enumerate(batch) if m is doomed}

    async with running_settler(c, tmp_path, max_batch=16, cap=CAP) as (settler, results):
        settler.held, settler.withdrawn = held, withdrawn
        await slim_out_of_gas(settler, results, backlog)
        reported = Counter(id(r.match) for r in results)
        assert sorted(reported.values()) == [1] * 50, "a match reported twice"  # (before: 51)
        by_match = {id(r.match): r for r in results}
        assert by_match[id(doomed)].withdrawn and by_match[id(doomed)].reason == DOOMED_WHY
        assert c.exchange.order_info(doomed.resting.order).filled == 0  # (before: signed)
        assert by_match[id(held_one)].outcome is Outcome.SETTLED
        assert (settler.settled, settler.withdrawn_matches, settler.failed) == (49, 1, 0)
        assert not settler.signed_out and not settler.unsigned()


async def test_a_batch_out_of_gas_is_unsigned_until_its_parts_are_signed(
    chain: Chain, tmp_path: Path
) -> None:
    """Its signature reverted whole, each match of it is unsigned again until its part is
    signed (``Settler.unsigned``: a diagnosis that finds an order at fault meanwhile
    withdraws them; before, they were neither signed nor unsigned, signed after it: checked
    here at each look, as the batch and each part go). A look is before a signature (each
    match unsigned) or, since held79/revert79, right before the signed one's send
    (``unsendable``, ``_recheck``: each match signed out); never in neither, never mixed."""
    c = chain
    looks: list[tuple[int, int, int]] = []  # (each look's matches, unsigned, signed out)
    async with running_settler(c, tmp_path, max_batch=16, cap=CAP) as (settler, results):

        def withdrawn(batch: Sequence[Match]) -> Mapping[int, str]:
            unsigned = {id(m) for m in settler.unsigned()}
            looks.append(
                (
                    len(batch),
                    sum(id(m) in unsigned for m in batch),
                    sum(id(m) in settler.signed_out for m in batch),
                )
            )
            return {}

        settler.withdrawn = withdrawn
        await slim_out_of_gas(settler, results, [pair(c, k) for k in range(50)])
        assert settler.settled == 50
        before_signature = [n for n, unsigned, _ in looks if unsigned == n]
        # (the batch, then each part, as it forms and at its signature)
        assert before_signature[:2] == [50, 50] and len(before_signature) >= 4, looks
        # (each look's all unsigned or all signed out; before: some in neither)
        assert all((u, out) in {(n, 0), (0, n)} for n, u, out in looks), looks
        assert not settler.unsigned()
