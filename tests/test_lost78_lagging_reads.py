"""lost78: an ordinary settlement is never counted lost while its nonce is not taken.

Behind a balancer whose asks by hash meet a backend that lags, a settlement the chain pools
(its send answered, no refusal) is not known to the backend asked. The receipt wait counted it
lost when the chain did not know it twice half a second apart (or at ``RECEIPT_TIMEOUT``),
though its bytes were pooled at the other backend: its matches were failed and matched again,
the second settlement sent at the next nonce, and both were mined (the second a paid revert).
Now it is lost only once one answer gives the operator's count past its nonce with no receipt
of it (reconcile77's rule), its bytes sent again meanwhile; past a bound, a transfer of nothing
at its nonce cancels it (it or the cancel lands: one nonce). Real chain of the suite's engine,
its mining on the send turned off (the first backend pools), behind a real balancer on
loopback (``tests/rpcfault.py``) whose second backend is a second Hardhat node (its count 0),
a real node and SQLite store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.chainnode import Engine
from sdex.settlement import Outcome, receipts
from sdex.settlement.batchtx import NONCE_TRIES
from tests.conftest import Chain, chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import dropping_proxy, retrying_balancer
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import lagging, pooling, settled_once
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settlement_fallback import pair, running_settler

__all__ = ["lagging", "pooling"]  # (reconcile77's fixtures: the lagging node, the pooling chain)


async def test_a_pooled_settlement_the_backend_asked_does_not_know_settles_once(
    pooling: Chain, tmp_path: Path, lagging: Rpc
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))  # (gtc: given back, it is matched again)
    with retrying_balancer(c.rpc.url, lagging.url) as (url, balancer):
        async with running_node(replace(node_config(c, tmp_path / "n.db"), rpc=url)) as (
            node,
            api,
        ):
            s = node.settler
            operator = node.sender.address
            assert (await api.post_order(maker))[0] == 201
            c.rpc.call("evm_setAutomine", False)
            count = nonce(c.rpc, operator)
            balancer.reads, balancer.lagging = True, 10**6  # (every ask by hash: the lagging)
            code, body = await api.post_order(taker)
            assert code == 201 and len(body["matches"]) == 1, body

            def pooled() -> bool:
                pending = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
                return pending > count

            await wait_for(pooled, timeout=30)
            # before: two asks 0.5 s apart found it unknown, lost; matched again, sent again
            await wait_for(lambda: s.sent >= 2 or (balancer.lagged >= 3 and not s.lost), 30)
            await settled_once(c, node, api, maker, taker, count)  # (before: 2 sent, a revert)


async def test_a_kept_settlement_the_chain_never_takes_is_cancelled_at_its_bound(
    chain: Chain, tmp_path: Path, lagging: Rpc, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused "nonce too high" at every try (reconcile77's balancer: each send taken by the
    first backend, the lagging one's refusal answered), and the first backend's endpoint drops
    it at each send (its raw transaction never reaches the chain): before, kept until its nonce
    was taken, which nothing did, its matches held in flight until a restart. Now, unknown at
    every check for ``UNKNOWN_TIMEOUT`` (2 s here, 15 s in a node), it is cancelled: a
    transfer of nothing at its nonce, which the chain mines; its nonce taken, it is lost, its
    matches failed (blameless: refused for its nonce at every try)."""
    if engine == "anvil":  # (as reconcile77's balancer test)
        pytest.skip("Hardhat only: anvil is sent eth_sendRawTransactionSync, not retried here")
    monkeypatch.setattr(receipts, "UNKNOWN_TIMEOUT", 2.0, raising=False)
    drop = [False]

    def settlement(raw: str) -> bool:  # (a transfer of nothing is ~110 bytes: passed on)
        return drop[0] and len(raw) > 400

    with dropping_proxy(chain.rpc.url, settlement) as (first, dropped):
        with retrying_balancer(first, lagging.url) as (url, balancer):
            c = chain_of(Rpc(url), chain.deployment)
            operator = c.address(OPERATOR)
            async with running_settler(c, tmp_path) as (settler, results):
                settler.submit([pair(c, 0)])  # (the operator's count on the chain past 0)
                await wait_for(lambda: settler.idle.is_set() and len(results) == 1, 30)
                assert results[0].outcome is Outcome.SETTLED, results[0]
                before = nonce(chain.rpc, operator)
                drop[0] = True
                balancer.sends, balancer.lagging = NONCE_TRIES, 0
                balancer.armed.set()
                settler.submit([pair(c, 1)])
                await wait_for(lambda: balancer.tried == NONCE_TRIES, 30)
                (tx,) = settler.in_flight
                await wait_for(lambda: len(results) == 2, 30)  # (before: held for good)
                r = results[1]
                assert r.outcome is Outcome.FAILED and r.nonce_taken, r
                assert settler.cancelled == 1 and settler.lost == 1
                assert len(dropped) > NONCE_TRIES  # (its bytes sent again while kept)
        assert chain.rpc.call("eth_getTransactionReceipt", tx) is None
        assert nonce(chain.rpc, operator) == before + 1  # (the cancel, at its nonce)
