"""reads77: one contract maker's held reads hold at most its share of the verdicts' client
(``verify.MAKER_READS``), and a read whose orders all gave up is ended, its connection
closed.

reads76 gave EIP-1271 verdicts a client of their own (4 connections) and each order a read
deadline (8 s, then ``CHAIN_UNAVAILABLE``). But a hostile contract wallet (its view burns
its gas, or the path to the chain holds its calls) posting in separate windows still took
all 4: an honest contract maker's read waited for one, its order answered 503 at the
deadline. And an order that gave up at its deadline left its request running: the
connection stayed taken until the client's 30 s timeout.

A real node on a real Hardhat, its RPC behind checks75's proxy, which holds every answer to
an ``eth_call`` naming the needle (``holding_reads``) and counts the held answers whose
client hung up (``dropped``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack30_gas_gated_wallet import gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_checks75_held_reads import done, held_node, holding_reads
from tests.test_node import BOB, E6, E18, ask
from tests.test_reads76_held_pool import contract_asks


async def test_a_hostile_maker_holds_only_its_share(chain: Chain, tmp_path: Path) -> None:
    """The hostile wallet's orders, each in a window of its own, as many as the verdicts'
    connections: at most its share are read at once (the rest wait their turn), and an
    honest contract maker's order is answered 201 well within the read deadline."""
    c = chain
    w, honest_wallet = burner(c), gas_gated_wallet(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, api, proxy):
        sigs = node.contract_sigs
        pool = node.contract_rpc.connections
        most = sigs.share(w)  # (a maker without a record: one at a time, reads78)
        hostile = []
        for k, order in enumerate(contract_asks(c, w, pool)):
            hostile.append(asyncio.ensure_future(node.submit_wallet(order.to_json())))
            await wait_for(lambda k=k: node.intake.read == k + 1, 20)
            await wait_for(lambda k=k: proxy.held >= min(k + 1, most), 20)
        async with asyncio.timeout(node.intake.read_deadline - 2):
            status, body = await api.post_order(contract_ask(c, honest_wallet))
        assert status == 201, body
        assert proxy.held == most and not any(t.done() for t in hostile)
        proxy.release.set()
        await wait_for(lambda: all(t.done() for t in hostile), 30)


@pytest.mark.parametrize("maker", ["contract", "first-seen"])
async def test_a_given_up_read_frees_its_connection(
    chain: Chain, tmp_path: Path, maker: str
) -> None:
    """An order whose read is held is answered 503 at its read deadline, and the held
    request is ended then: its connection closed, not kept until the client's 30 s timeout.
    A contract maker's read (the verdicts' client) and a first-seen account's (the node's)."""
    c = chain
    if maker == "contract":
        needle = burner(c)
        order = contract_ask(c, needle)
    else:
        needle = c.address(BOB)
        order = c.sign(ask(c, BOB, E18, 3200 * E6))
    base = node_config(c, tmp_path / "n.db")
    async with (
        holding_reads(base.rpc, needle) as proxy,
        running_node(replace(base, rpc=proxy.url)) as (node, _api),
    ):
        await wait_for(node.mirror_ready)
        node.intake.read_deadline = 0.5
        answer = asyncio.ensure_future(node.submit_wallet(order.to_json()))
        await wait_for(done(answer), 10)
        assert answer.result().status == 503, answer.result()
        assert answer.result().body["rejection"] == "CHAIN_UNAVAILABLE"
        await wait_for(lambda: proxy.dropped == 1, 5)  # (the client's timeout: 30 s)
        assert proxy.held == 0
