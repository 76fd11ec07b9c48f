"""review92: fee90 reads the saved head's block fee as placed, the first bound of a restart
(``sdex.watch.fork.check_head``), once its answer's hash is the saved head's. The hash proves
the block's identity, not the fields beside it: an endpoint that answers the saved head's
number with its hash and a ``baseFeePerGas`` at the ceiling (``--max-base-fee``) sets that
lie as the placed bound, and every read up to the ceiling is then within EIP-1559's reach of
it: the latest block said at the ceiling is believed and signed with (a fee cap of twice the
ceiling) on a chain at ~1 gwei. (Before fee90 the deploy block's fee, read by number, was the
first bound: the same trust, the catch-up's reach from far below.)

Checked: with the latest block's answers lied alone (the saved head's answered as the chain
has it) nothing is signed above 10^12 (fee90's own test's case: the latest said as block N,
placed honest, is "one block, two fees", never confirmed); with the saved head's by-number
answer lied too (its hash kept) the pair is signed at the ceiling. Tried and not enough (the
ceiling still signed, 1 of 1): placing ``check_head``'s and the mirror's range reads'
(``sdex.watch.ranges``) fees only from headers whose hash is of their fields
(``sdex.mirror.seal.sealed``): nothing is placed at block N then, the bound is the deploy
block's, and the latest's lie at block N, past it, is confirmed by the same answer read again
(``HeadSignal.doubt``'s ``_suspect``: bounds84's rule for a devnet's
``hardhat_setNextBlockBaseFeePerGas``). A fix needs both: fees placed from sealed headers
only, and a read again of the same block's answer not confirming a fee the mirror's own read
of that block (sealed) did not say; ``doubt`` is in sdex/chain/headsignal.py (fee91's).

fee93: the floor judged at the saved head is saved with it and is the restart's first bound
(the saved head's fee never read again), and a rise past EIP-1559's highest from the floor is
never confirmed by a read again: nothing signed above it (main, with this test's walked rise
to 1 gwei: the pair signed at the ceiling).

Real Hardhat, a real node in this process run to the chain's head, stopped, and started again
on its SQLite store behind a real loopback proxy (``tests.rpcfault._proxy``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.chain.tx import MAX_BASE_FEE
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.replacedrow import base_fee_kept, fee_walked_to
from tests.startheads import ran_to_head
from tests.test_bounds84_base_fee import pair_posted, signing_recorded


async def test_a_saved_head_answered_with_a_lied_fee_is_not_the_first_bound(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        await fee_walked_to(c, 10**9)  # (the node's reads believe each block's rise: fee93)
        top = await ran_to_head(c, db)
        saved = str(top["number"])
        signed: list[int] = []
        lies = [0]

        def lie_at_saved(q: dict[str, Any], r: dict[str, Any]) -> None:
            got = r.get("result")
            said = (q.get("params") or [None])[0]
            by = q.get("method") == "eth_getBlockByNumber" and isinstance(got, dict)
            if by and said in (saved, "latest"):  # (the saved head's hash kept)
                assert isinstance(got, dict)
                got["baseFeePerGas"] = hex(MAX_BASE_FEE)
                lies[0] += 1

        with signing_recorded(c.deployment.rpc, signed, lie_at_saved) as rpc:
            async with pair_posted(c, db, rpc) as node:
                await wait_for(lambda: lies[0] >= 12 or bool(signed), 60)
                # main: the pair signed at the ceiling, the saved head's lied fee its bound
                assert not signed or max(signed) < 10**12, signed
                assert node.mirror.announced.read_fee is None or (
                    node.mirror.announced.read_fee[1] < 10**12
                ), node.mirror.announced.to_json()
