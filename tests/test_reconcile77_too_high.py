"""reconcile77: a settlement refused "nonce too high" is awaited until its nonce is taken.

Behind a balancer, a send can reach two backends: the one that took it (its answer lost on the
way back, the bytes in its pool) and one that lags, tried again, which says "nonce too high"
and does not know the transaction's hash. settle77 sends such a settlement again as signed,
the nonces below it filled first; two places still gave it up while the bytes could land:

- At a restart (``sdex.settlement.reconcile``): a pending row refused "too high" was given up
  at once and its orders matched again at the next nonce; the first backend's pool mined both,
  the same matches settled twice (the second a paid revert).
- At the lane's last try (``NONCE_TRIES``): the settlement fell to the receipt wait, which
  counted it lost at once (the backend asked did not know it), its matches reported failed
  (and matched again) though the pooled bytes landed at the next block.

Now such a settlement is kept (``NonceLane.kept``): lost only once one answer gives the
operator's count past its nonce with no receipt of it, its bytes sent again meanwhile. Real
chain of the suite's engine, its mining on the send turned off (the first backend pools),
behind a real balancer on loopback whose second backend is a second Hardhat node (its count
0); a real ``sdex node`` process killed by its PID, the restart in this process."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.chainnode import Engine
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement import Outcome
from sdex.settlement.batchtx import NONCE_TRIES
from tests.conftest import Chain, chain_of
from tests.nodeutil import Api, node_config, node_up, running_node, wait_for
from tests.rpcfault import retrying_balancer
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settlement_fallback import pair, running_settler


@pytest.fixture
def lagging(lagging_node: Rpc) -> Iterator[Rpc]:
    """A second Hardhat node: the same chain id and accounts, none of the chain's blocks;
    the worker's (``lagging_node``), put back as it was after the test (``evm_revert``)."""
    snap = lagging_node.call("evm_snapshot")
    try:
        yield lagging_node
    finally:
        assert lagging_node.call("evm_revert", snap) is True


@pytest.fixture
def pooling(chain: Chain) -> Iterator[Chain]:
    """The chain, mining only when told (``evm_mine``): a send waits in its pool."""
    try:
        yield chain
    finally:
        chain.rpc.call("evm_setAutomine", True)


def pending_rows(db: Path) -> list[str]:
    """The transaction hashes of ``db``'s pending settlement rows."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT tx_hash FROM settlements WHERE status='pending'").fetchall()
    return [str(r[0]) for r in rows]


async def pooled_and_killed(
    c: Chain,
    db: Path,
    url: str | None,
    orders: tuple[SignedOrder, SignedOrder] | None = None,
    then: Callable[[Api], Awaitable[object]] | None = None,
) -> tuple[SignedOrder, int]:
    """A crossing pair (``orders``, else ALICE's ask and BOB's bid of 1 WETH at 3000) posted to
    a real ``sdex node`` (its chain ``url``, None: ``c``'s) with mining paused, its settlement
    pooled, ``then`` done at its API, the node killed by its PID: the row pending. The
    resting ask and the operator's count before."""
    maker, taker = orders or (  # (both rest: a restart loads both)
        c.sign(ask(c, ALICE, E18, 3000 * E6)),
        c.sign(bid(c, BOB, E18, 3000 * E6)),
    )
    operator = c.address(OPERATOR)
    async with node_up(c, db, url, OPERATOR) as (proc, api):
        c.rpc.call("evm_setAutomine", False)
        count = nonce(c.rpc, operator)
        assert (await api.post_taken(maker))[0] == 201
        code, body = await api.post_taken(taker)
        assert code == 201 and len(body["matches"]) == 1, body

        def pooled() -> bool:  # (recorded before its broadcast: the row is there)
            return nonce(c.rpc, operator, "pending") == count + 1

        await wait_for(pooled, timeout=30)
        if then is not None:
            await then(api)
        proc.kill()  # (SIGKILL, by its PID: the settlement pooled, its row pending)
        proc.wait(timeout=10)
    return maker, count


async def mined_and_filled(
    c: Chain, node: Node, api: Api, maker: SignedOrder, count: int, timeout: float = 30
) -> None:
    """The pooled settlement (``pooled_and_killed``'s) mined: ``maker``'s order filled with
    nothing in flight, the operator's count one past ``count`` (before: two, a paid revert),
    nothing lost or failed."""
    s = node.settler
    c.rpc.call("evm_mine")  # (the pooled one: before, the one matched again too)

    async def filled() -> bool:
        return await api.status(maker) == "filled" and not s.in_flight

    await wait_for(filled, timeout=timeout)
    assert nonce(c.rpc, c.address(OPERATOR)) == count + 1  # (before: + 2, a paid revert)
    assert s.lost == 0 and s.failed == 0, (s.lost, s.failed)


async def settled_once(
    c: Chain, node: Node, api: Api, maker: SignedOrder, taker: SignedOrder, count: int
) -> None:
    """``mined_and_filled`` for a pair (``pooled_and_killed``'s amounts) settled by the one
    settlement this node sent: both orders filled in full on chain."""
    await mined_and_filled(c, node, api, maker, count)
    assert node.settler.sent == 1, node.settler.sent
    assert c.exchange.order_info(maker.order).filled == E18
    assert c.exchange.order_info(taker.order).filled == 3000 * E6


@pytest.mark.parametrize("case", ["refused", "dropped", "unknown"])
async def test_a_row_refused_too_high_at_a_restart_settles_its_matches_once(
    pooling: Chain,
    tmp_path: Path,
    lagging: Rpc,
    monkeypatch: pytest.MonkeyPatch,
    engine: Engine,
    case: str,
) -> None:
    """``dropped``: every ask by hash goes to the lagging backend, and once the row is
    adopted the first backend's pool drops it: only the kept wait's sends bring it back (an
    adopted row's went nowhere: signed in no view, each "not sent: the chain was replaced").
    ``unknown`` (lost78): the send again is not refused (the first backend pools it), every
    ask by hash goes to the lagging backend: the row was given up (not pooled, by that
    answer), its orders matched again, and both were mined (failed 3 of 3 before)."""
    dropped = case == "dropped"
    c = pooling
    db = tmp_path / "n.db"
    with retrying_balancer(c.rpc.url, lagging.url) as (url, balancer):
        maker, count = await pooled_and_killed(c, db, url)
        (tx,) = pending_rows(db)
        if case == "unknown":  # (the send again taken; the asks by hash: the lagging one)
            balancer.reads, balancer.lagging = True, 10**6
        else:
            balancer.armed.set()  # (the restart's send again: taken, and "too high" said)
        if dropped:
            balancer.lagging = 10**6
        monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            if case != "unknown":
                assert balancer.retried and "too high" in str(balancer.retried[0]).lower()
            s = node.settler

            def held() -> bool:  # (before: its orders matched again, that one sent)
                return (s.adopted == 1 or s.sent == 1) and not s.sends

            await wait_for(held, timeout=20)
            if dropped:
                drop = "anvil_dropTransaction" if engine == "anvil" else "hardhat_dropTransaction"
                c.rpc.call(drop, tx)
                assert c.rpc.call("eth_getTransactionByHash", tx) is None

                def back() -> bool:  # (sent again by the kept wait)
                    return c.rpc.call("eth_getTransactionByHash", tx) is not None

                await wait_for(back, timeout=20)
            await mined_and_filled(c, node, api, maker, count)
    assert c.exchange.order_info(maker.order).filled == E18


@pytest.mark.parametrize("replaced", [False, True])
async def test_a_settlement_refused_too_high_at_every_try_waits_for_its_nonce(
    pooling: Chain, tmp_path: Path, lagging: Rpc, engine: Engine, replaced: bool
) -> None:
    """``replaced``: the watcher sees the chain replaced while the settlement is kept, and the
    first backend's pool drops it: no longer kept (its bytes are not sent to the new chain),
    it is judged lost as any other (a kept wait would hold its matches for good)."""
    if engine == "anvil":  # (as settle77's balancer test)
        pytest.skip("Hardhat only: anvil is sent eth_sendRawTransactionSync, not retried here")
    number = pooling.deployment.deploy_block
    block = pooling.rpc.call("eth_getBlockByNumber", hex(number), False)
    views = [(number, str(block["hash"]), 0)]
    with retrying_balancer(pooling.rpc.url, lagging.url) as (url, balancer):
        c = chain_of(Rpc(url), pooling.deployment)
        operator = c.address(OPERATOR)
        async with running_settler(c, tmp_path) as (settler, results):
            settler.async_sends.view = lambda: views[-1]
            settler.submit([pair(c, 0)])  # (the operator's count on the chain past 0)
            await wait_for(lambda: settler.idle.is_set() and len(results) == 1, 30)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            before = nonce(pooling.rpc, operator)
            pooling.rpc.call("evm_setAutomine", False)
            balancer.sends, balancer.lagging = NONCE_TRIES, 10**6 if replaced else 3
            balancer.armed.set()
            second = pair(c, 1)
            settler.submit([second])
            await wait_for(lambda: balancer.tried == NONCE_TRIES, 30)
            # before: two asks by hash (0.5 s apart) to the lagging backend, then counted lost
            # (since settle81 two requests a check: its pending count, then by hash)
            await wait_for(lambda: len(results) == 2 or balancer.lagged >= 3, 30)
            if replaced:
                (tx,) = [h for h in settler.in_flight]
                views.append((views[0][0], views[0][1], 1))  # (the watcher's reset seen)
                pooling.rpc.call("hardhat_dropTransaction", tx)
                await wait_for(lambda: len(results) == 2, 30)  # (before: kept for good)
                r = results[1]
                assert r.outcome is Outcome.FAILED and r.nonce_taken, r
                assert nonce(pooling.rpc, operator) == before
                return
            pooling.rpc.call("evm_mine")  # (the pooled bytes land)
            await wait_for(lambda: len(results) == 2, 30)
            r = results[1]
            assert r.outcome is Outcome.SETTLED, r  # (before: failed, "refused ... every try")
            assert "too high" in str(balancer.retried[-1]).lower(), balancer.retried
        assert nonce(pooling.rpc, operator) == before + 1
        assert c.exchange.order_info(second.resting.order).filled > 0
