"""reads78: hostile contract wallets hold at most the pool of makers without a record on the
verdicts' connections, one read each, two through one submitter; a maker with a funded open
order here keeps the last connection.

reads77 bounded one maker's verdict reads at 2 of the verdicts' 4 connections: two hostile
wallets, a deployment each, held all 4, and an honest contract maker's order waited for one,
answered 503 at the read deadline. Now (``sdex.ingest.readturns``) a maker without a record
reads one at a time, such makers 3 at once in all, and a submitter 2.

A real node on a real Hardhat, its RPC behind checks75's proxies (one per hostile wallet,
chained: each holds every ``eth_call`` naming its wallet), hostile orders from other loopback
clients (budget33's ``client_at``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_attack30_gas_gated_wallet import gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import client_at, contract_ask
from tests.test_checks75_held_reads import ReadHolder, holding_reads
from tests.test_reads76_held_pool import contract_asks


@asynccontextmanager
async def holding_each(upstream: str, wallets: Sequence[str]) -> AsyncIterator[list[ReadHolder]]:
    """A proxy per wallet, chained in front of ``upstream``, each holding its wallet's reads
    (the first's URL is the node's RPC)."""
    async with AsyncExitStack() as stack:
        holders: list[ReadHolder] = []
        for w in reversed(wallets):
            holders.insert(0, await stack.enter_async_context(holding_reads(upstream, w)))
            upstream = holders[0].url
        try:
            yield holders
        finally:
            for h in holders:
                h.release.set()


@asynccontextmanager
async def held_each_node(
    c: Chain, db: Path, wallets: Sequence[str]
) -> AsyncIterator[tuple[Node, Api, list[ReadHolder]]]:
    """A node whose RPC is behind ``holding_each`` of ``wallets``, its mirror ready."""
    base = node_config(c, db)
    async with (
        holding_each(base.rpc, wallets) as holders,
        running_node(replace(base, rpc=holders[0].url)) as (node, api),
    ):
        await wait_for(node.mirror_ready)
        yield node, api, holders


def held(holders: Sequence[ReadHolder]) -> int:
    return sum(h.held for h in holders)


async def test_two_hostile_deployments_leave_a_fresh_honest_maker_a_connection(
    chain: Chain, tmp_path: Path
) -> None:
    """Two hostile wallets post as many orders each as the verdicts' connections, each its
    own window: they hold 2 reads (one each, before: all 4), and a fresh honest contract
    maker's order is answered 201 well within the read deadline."""
    c = chain
    hostile = [burner(c), burner(c)]
    honest = gas_gated_wallet(c)
    async with held_each_node(c, tmp_path / "n.db", hostile) as (node, api, holders):
        sigs, pool = node.contract_sigs, node.contract_rpc.connections
        share = getattr(sigs, "share", lambda _w: sigs.turns.per_key)  # (before: per maker)
        posts = []
        for w, holder in zip(hostile, holders, strict=True):
            most = share(w)
            for k, order in enumerate(contract_asks(c, w, pool)):
                posts.append(asyncio.ensure_future(node.submit_wallet(order.to_json())))
                n = len(posts)
                await wait_for(lambda n=n: node.intake.read == n, 20)
                await wait_for(lambda h=holder, k=k, m=most: h.held >= min(k + 1, m), 20)
        assert held(holders) == min(pool, sum(share(w) for w in hostile))
        async with asyncio.timeout(node.intake.read_deadline - 2):
            status, body = await api.post_order(contract_ask(c, honest))
        assert status == 201, body
        assert held(holders) == 2 and not any(p.done() for p in posts)
        for h in holders:
            h.release.set()
        await wait_for(lambda: all(p.done() for p in posts), 30)


async def test_three_hostile_deployments_leave_a_maker_with_a_record_its_connection(
    chain: Chain, tmp_path: Path
) -> None:
    """The figure: three fresh hostile wallets, two from one client and one from another,
    fill the pool (3 reads: the first client's two at its bound, a third wallet's read from
    it waits), so a fresh honest maker's order waits; an honest maker with a funded open
    order here is answered 201 from the last connection (before: the first two wallets held
    all 4)."""
    c = chain
    hostile = [burner(c), burner(c), burner(c)]
    recorded, fresh = gas_gated_wallet(c), gas_gated_wallet(c)
    async with held_each_node(c, tmp_path / "n.db", hostile) as (node, api, holders):
        node.intake.read_deadline = 60.0  # (the hostile reads stay held while the test runs)
        status, body = await api.post_order(contract_ask(c, recorded))  # (its record)
        assert status == 201, body
        url = f"http://127.0.0.1:{node.config.port}"
        async with client_at(url, "127.0.0.2") as x, client_at(url, "127.0.0.3") as y:
            posts, third = [], contract_asks(c, hostile[2], 4)
            sent = [(x, o) for w in hostile[:2] for o in contract_asks(c, w, 2)]
            sent += [(y, o) for o in third[:2]] + [(x, o) for o in third[2:]]
            node.contract_sigs.max_wait = 0.0  # (each order a window of its own)
            for client, order in sent:  # (x's third wallet's: past x's 2, waiting)
                posts.append(asyncio.ensure_future(client.post_order(order)))
                n = len(posts)
                await wait_for(lambda n=n: node.intake.read == 1 + n, 20)
            await wait_for(lambda: held(holders) >= min(3, node.contract_rpc.connections), 20)
            waiting = asyncio.ensure_future(api.post_order(contract_ask(c, fresh)))
            await wait_for(lambda: node.intake.read == 2 + len(posts), 20)
            async with asyncio.timeout(8):
                again = contract_asks(c, recorded, 2)[1]
                status, body = await api.post_order(again)
            assert status == 201, body
            assert held(holders) == 3, [h.held for h in holders]
            assert not waiting.done() and not any(p.done() for p in posts), (
                waiting.done() and waiting.result(),
                [p.result() for p in posts if p.done()],
            )
            for h in holders:
                h.release.set()
            await wait_for(lambda: all(p.done() for p in posts) and waiting.done(), 30)
            assert waiting.result()[0] == 201, waiting.result()
