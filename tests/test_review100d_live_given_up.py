"""review100d (left by restart98): a live settlement signed at the nonce of an earlier one of
ours (held79: the earlier refused not for its nonce, the count gave the nonce back), the
earlier marked ``superseded`` (its wait sends nothing more), then the later's flight given up
on an error (``Settler._settle_or_fail``'s except: a chain outage), its bytes gone with the
pool that held them. Before, the earlier stayed superseded: nothing of it sent again, nor its
cancel at its bound, the nonce empty and its matches held till a later signature filled the
gap. Now the given-up flight releases the nonce (``CancellingLane._released``, from
``BatchTx._landing``): the earlier's wait sends its bytes again, or its cancel, and the nonce
is taken.

Real Hardhat (mining paused, as a live chain between blocks; the later's bytes dropped from
its pool by ``hardhat_dropTransaction``), the node's settler with its own SQLite store, a real
proxy on loopback refusing the earlier's bytes till told. The later's error is made by its
receipt's wait raising once told (a wrap of the real ``NonceLane._receipt``: the one fault not
a real part's)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sdex.errors import ChainError
from sdex.settlement import Outcome, receipts
from sdex.settlement.lane import NonceLane
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_count77_lied_count import counts
from tests.test_held79_refused_nonce import refusing_proxy, sent_at_one_nonce
from tests.test_settlement_fallback import pair, running_settler


async def test_a_live_settlement_given_up_on_an_error_releases_the_earlier_at_its_nonce(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receipts, "UNKNOWN_TIMEOUT", 2.0)
    go = asyncio.Event()
    real = NonceLane._receipt
    with refusing_proxy(chain) as (c, refusing, refused, _):

        async def receipt(self: Any, signed: Any, *args: Any, **kw: Any) -> Any:
            if signed.tx_hash in refused:  # (the earlier's wait: as it is)
                return await real(self, signed, *args, **kw)
            await go.wait()  # (the later's wait: an outage's error once told)
            raise ChainError("the chain's answers failed (an outage)")

        monkeypatch.setattr(NonceLane, "_receipt", receipt)
        async with running_settler(c, tmp_path, max_batch=1) as (s, results):
            operator = s.sender.address
            n = counts(chain, operator)[1]
            first, second = pair(c, 0), pair(c, 1)
            chain.rpc.call("evm_setAutomine", False)
            try:
                await sent_at_one_nonce(s, refusing, refused, first, second)
                (earlier,) = refused
                (later,) = (h for h in s.signed_views if h != earlier)
                assert {t.nonce for _, t in s.signed_views.values()} == {n}
                assert earlier in s.superseded, s.superseded
                assert chain.rpc.call("eth_getTransactionByHash", later) is not None
                refused.clear()  # (the earlier's bytes taken from here on)
                chain.rpc.call("hardhat_dropTransaction", later)  # (the pool lost it)
                go.set()  # (the later given up)
                await wait_for(lambda: len(results) == 1, 30)
                assert results[0].match is second and results[0].outcome is Outcome.FAILED

                def sent_at_n() -> bool:  # (before: nothing at n, the earlier superseded)
                    pending = chain.rpc.call("eth_getTransactionCount", operator, "pending")
                    return int(pending, 16) > n

                await wait_for(sent_at_n, timeout=40)
                assert earlier not in s.superseded
            finally:
                chain.rpc.call("evm_setAutomine", True)
                chain.rpc.call("evm_mine")
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 60)
            assert results[1].match is first, results
            assert counts(chain, operator) == (n + 1,) * 2
