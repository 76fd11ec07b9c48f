"""review72: a match a diagnosis found at fault while it was taken into a batch, not signed
yet, is marked doomed (``NodeHolds._unhold_diagnosed``: ``_doomed``) and said withdrawn at its
signature's check. A batch that ends before that check (a chain outage: its fee read fails;
or a pre-flight that fails) reports its matches without it: the entry stayed for the node's
life, holding the match (failed 3 of 3 before). Now each reported match leaves ``_doomed``.

hold70's set-up (``second_waiting_fees``: real Hardhat mining only when told, a loopback
proxy holding the second match's fee read while the first's failure is diagnosed); the fee
read, released, answered with a JSON-RPC error."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.rpcfault import Gate
from tests.test_hold70_signed_held import hardhat_only, held_chain, second_waiting_fees, taken

__all__ = ["hardhat_only", "held_chain"]  # (the fixtures, used by name)


async def test_a_doomed_match_whose_batch_ended_unsigned_is_not_kept(
    held_chain: Chain, tmp_path: Path
) -> None:
    c = held_chain
    async with second_waiting_fees(c, tmp_path, Gate(lambda _: False)) as (
        node, _api, fees, _half, second, _first,
    ):  # fmt: skip
        # the diagnosis ends (Alice found short) while the second waits for its fees
        await wait_for(lambda: node.settler.failed == 1 and not node._holds, timeout=30)
        assert taken(node, second) and len(node._doomed) == 1
        fees.fail = True  # its fee read fails: the batch ends, nothing signed
        fees.release.set()
        await wait_for(lambda: node.settler.failed == 2, timeout=30)
        await wait_for(lambda: node.settler.idle.is_set() and not node._holds, timeout=30)
        assert not node.settler.unsigned()
        assert not node._doomed, "a reported match kept as doomed"
