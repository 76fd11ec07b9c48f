"""A settler whose settlement's sends the endpoint drops, the chain's identity in doubt
meanwhile (adopt79, settle81): the set-up and the end of the tests that bound such a wait.

Real Hardhat, the node's settler with its own SQLite store, a real proxy on loopback dropping
the settlement's sends (``tests.rpcfault.dropping_proxy``), the node's ``ChainDoubt`` raised
and proven as the watcher does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdex.chain import Rpc
from sdex.mirror.doubt import ChainDoubt
from sdex.settlement import Outcome, Settler
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import dropping_proxy
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import doubt_gating, proven
from tests.test_settlement_fallback import running_settler


@dataclass
class Dropping:
    c: Chain
    """The chain behind the proxy (the settler's)."""
    s: Settler
    results: list[Any]
    doubt: ChainDoubt
    """Holds ``s``'s sends while it stands."""
    dropped: list[str]
    """The raw sends dropped."""
    drop: list[bool]
    """``[True]`` while the endpoint drops the settlement's sends."""
    operator: str
    before: tuple[int, int]
    """The operator's counts before the settlement."""

    async def cancelled(self, reason: str) -> Any:
        """The endpoint taking sends again and the doubt proven: the settlement's match
        fails, its cancel taking the nonce (``reason`` how its reason starts). Its result."""
        self.drop[0] = False  # (the endpoint takes sends again: its bytes would land now)
        proven(self.doubt)
        await wait_for(lambda: self.s.idle.is_set() and len(self.results) == 1, 60)
        r = self.results[0]
        assert r.outcome is Outcome.FAILED and r.nonce_taken, r
        assert r.reason.startswith(reason), r.reason
        assert self.s.cancelled == 1
        return r


@asynccontextmanager
async def dropping_settler(chain: Chain, tmp_path: Path) -> AsyncIterator[Dropping]:
    """A settler on ``chain`` behind a proxy that drops its settlements' sends, its sends
    held by a doubt (not yet said)."""
    drop = [True]

    def settlement(raw: str) -> bool:  # (a transfer of nothing is ~110 bytes: passed on)
        return drop[0] and len(raw) > 400

    with dropping_proxy(chain.rpc.url, settlement) as (url, dropped):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            doubt = doubt_gating(s)
            operator = s.sender.address
            before = counts(chain, operator)
            yield Dropping(c, s, results, doubt, dropped, drop, operator, before)
