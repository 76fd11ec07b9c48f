"""doubt80: a sync send's receipt is not taken when the chain's identity came in doubt.

adopt79 made a settlement's wait take no receipt in a doubt (the answer may be another
chain's: a backend on a replaced chain, or on another branch, behind a balancer). A send by
``eth_sendRawTransactionSync`` (EIP-7966, anvil's) brings its receipt with its answer, and
that receipt was taken as it came, doubt or not: another chain's, its bytes reverted there,
failed a sound settlement and freed its orders. Now such a receipt is not taken; the wait
asks again once the doubt ends. Real Hardhat behind a real proxy on loopback that serves the
sync method (the send forwarded, Hardhat mines it) and answers it, the doubt said meanwhile
as the watcher says one, with the receipt of another chain where the bytes reverted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.mirror.doubt import ChainDoubt
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import WHY, proven
from tests.test_review74a_lagging_flap import _forward
from tests.test_settlement_fallback import pair, running_settler


@contextmanager
def sync_proxy(
    upstream: str, doubt: ChainDoubt, within: bool = False
) -> Iterator[tuple[str, list[str]]]:
    """The URL of a proxy to ``upstream`` that serves ``eth_sendRawTransactionSync``: the
    send forwarded, then the doubt said (an answer of another chain meanwhile; ``within``:
    and proven), then the receipt answered as another chain's, reverted in a block of its
    own; and the hashes of the transactions so answered."""
    answered: list[str] = []

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_sendRawTransactionSync":
            return None
        raw = (req.get("params") or [""])[0]
        _, sent = _forward(upstream, dict(req, method="eth_sendRawTransaction", params=[raw]))
        ask = {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt"}
        _, got = _forward(upstream, dict(ask, params=[sent["result"]]))
        doubt.said(WHY)  # (as the watcher would, while the answer is on its way)
        if within:
            proven(doubt)
        answered.append(str(sent["result"]))
        foreign = dict(got["result"], status="0x0", blockHash="0x" + "ab" * 32)
        return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": foreign}).encode()

    with _proxy(upstream, intercept) as url:
        yield url, answered


@pytest.mark.parametrize("within", [False, True])
async def test_a_sync_sends_receipt_in_a_doubt_is_not_taken(
    chain: Chain, tmp_path: Path, within: bool
) -> None:
    """A settlement sent by the sync method (Hardhat mines it); a doubt begins before its
    answer comes (``within``: and is proven), another chain's receipt: reverted. Not taken
    (before: its match failed, "transaction reverted", its orders free while its bytes were
    mined on ours: failed 3 of 3, each); once the doubt ends its receipt is asked for again,
    and it settled."""
    doubt = ChainDoubt()
    with sync_proxy(chain.rpc.url, doubt, within) as (url, answered):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            loop = asyncio.get_running_loop()
            s.async_sends.doubt = lambda: doubt.held
            s.said = lambda: doubt.doubts  # (the node's: its mirror's ``ChainDoubt``)
            doubt.changed = lambda: loop.call_soon_threadsafe(s.wake)  # (said on the proxy's)
            operator = s.sender.address
            before = counts(chain, operator)
            s.submit([pair(c, 0)])
            await wait_for(lambda: bool(answered) and s.broadcaster.sync_sends == 1, 30)
            if not within:
                held = s.keep_holds
                await wait_for(lambda: bool(results) or s.keep_holds >= held + 2, 30)
                assert results == [], results
                proven(doubt)
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 60)
            r = results[0]
            assert r.outcome is Outcome.SETTLED and r.tx_hash == answered[0], r
    assert counts(chain, operator) == (before[0] + 1,) * 2
