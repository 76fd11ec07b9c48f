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
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_checks75_held_reads import done, holding_reads
from tests.test_node import BOB, E6, E18, ask


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
