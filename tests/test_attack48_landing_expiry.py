"""attack48: on a chain that mines every few seconds, an order matched in the seconds before
its expiry was settled in the next block, past its expiry: the chain refused it
(``OrderExpired``) and the operator paid the failed settlement's gas. Found from outside
with two wallets and no gas of their own: an ask expiring at T, a crossing bid posted just
before T; repeatable with every new pair of orders. The node now takes the time its
settlements have lately taken to land (``StageTimes.landing``) as part of its clock for
matching (``NodeState.now``): such an order is not matched (landing49: it expires by the
chain's clock)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Chain, Engine
from tests.nodeutil import wait_for
from tests.sandwich import node_on
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

INTERVAL = 4
"""Seconds between blocks (the chain's interval mining)."""


@contextmanager
def mining_every(chain: Chain, engine: Engine, seconds: int) -> Iterator[Chain]:
    """``chain`` mining a block every ``seconds``, not on a send (automine again after).
    Hardhat takes the interval in milliseconds, anvil in seconds (given 4000, it mined no
    block in the 12 s ``next_block`` waits); Hardhat queues no nonce gap on automine."""
    chain.rpc.call("evm_setAutomine", False)
    chain.rpc.call("evm_setIntervalMining", seconds if engine == "anvil" else seconds * 1000)
    try:
        yield chain
    finally:
        chain.rpc.call("evm_setIntervalMining", 0)
        chain.rpc.call("evm_setAutomine", True)


@pytest.fixture
def interval_chain(chain: Chain, engine: Engine) -> Iterator[Chain]:
    """The test chain mining a block every ``INTERVAL`` s (``mining_every``)."""
    with mining_every(chain, engine, INTERVAL) as c:
        yield c


def head(c: Chain) -> tuple[int, int]:
    block = c.rpc.call("eth_getBlockByNumber", "latest", False)
    return int(block["number"], 16), int(block["timestamp"], 16)


async def next_block(c: Chain) -> int:
    """Waits for the chain's next block: its timestamp."""
    n = head(c)[0]
    await wait_for(lambda: head(c)[0] > n, timeout=3 * INTERVAL)
    return head(c)[1]


async def test_an_order_expiring_before_its_settlement_lands_is_not_matched(
    interval_chain: Chain, tmp_path: Path
) -> None:
    c = interval_chain
    operator = c.address(19)
    async with node_on(c, tmp_path) as (node, api):
        # an honest trade first, matched just after a block: settled in the next one
        await next_block(c)
        first = c.sign(ask(c, ALICE, E18, 2000 * E6))
        assert (await api.post_taken(first))[0] == 201
        assert (await api.post_taken(c.sign(bid(c, BOB, E18, 2000 * E6))))[0] == 201

        async def filled() -> bool:
            return await api.status(first) == "filled"

        await wait_for(filled, timeout=6 * INTERVAL)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=6 * INTERVAL)
        # the attack: an ask that expires just before the block after next...
        start = await next_block(c)
        expiry = start + 3 * INTERVAL - 1
        doomed = c.sign(ask(c, ALICE, E18, 2000 * E6, expiry=expiry))
        code, body = await api.post_taken(doomed)
        assert code == 201, body
        # ...and a crossing bid just after the block before its expiry
        await wait_for(lambda: head(c)[1] >= start + 2 * INTERVAL, timeout=4 * INTERVAL)
        sent = c.rpc.call("eth_getTransactionCount", operator, "latest")
        code, body = await api.post_taken(c.sign(bid(c, BOB, E18, 2100 * E6)), "ioc")
        assert code == 201, body
        await wait_for(lambda: head(c)[1] > expiry, timeout=4 * INTERVAL)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=4 * INTERVAL)

        async def expired() -> bool:  # (by the chain's clock: once the node has that block)
            return await api.status(doomed) == "expired"

        await wait_for(expired, timeout=4 * INTERVAL)
        # no settlement sent for it: the operator paid no gas for a refused match
        assert c.rpc.call("eth_getTransactionCount", operator, "latest") == sent
        assert node.settler.failed == 0
        assert body["matches"] == [], body  # not matched: it expires before a block can take it
