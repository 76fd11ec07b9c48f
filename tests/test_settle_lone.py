"""A lone match goes out as ``matchOrders`` with no pre-flight (real Hardhat, the node's
settler): no ``eth_call`` before its send, and one that fails is mined reverted and
re-judged from chain state (the guilty order out, the innocent one matched again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.chain import Rpc
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid


def trace_methods(rpc: Rpc) -> list[str]:
    """From now on, the method of every call ``rpc`` makes (the chain thread's client),
    batched or not."""
    asked: list[str] = []
    call, batch = rpc.call, rpc.batch

    def traced_call(method: str, *params: Any, timeout: float | None = None) -> Any:
        asked.append(method)
        return call(method, *params, timeout=timeout)

    def traced_batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        asked.extend(method for method, _ in calls)
        return batch(calls)

    rpc.call = traced_call  # type: ignore[method-assign]
    rpc.batch = traced_batch  # type: ignore[method-assign]
    return asked


def operator_statuses(c: Chain, operator: str, since: int) -> list[int]:
    """The receipt status of each transaction ``operator`` sent in blocks after ``since``."""
    out = []
    head = int(c.rpc.call("eth_blockNumber"), 16)
    for n in range(since + 1, head + 1):
        block = c.rpc.call("eth_getBlockByNumber", hex(n), True)
        for tx in block["transactions"]:
            if tx["from"].lower() == operator.lower():
                receipt = c.rpc.call("eth_getTransactionReceipt", tx["hash"])
                out.append(int(receipt["status"], 16))
    return out


async def test_a_lone_match_is_sent_with_no_preflight(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        maker = c.sign(ask(c, CAROL, E18, 3000 * E6))
        assert (await api.post_order(maker))[0] == 201
        asked = trace_methods(node.settler.sender.rpc)
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_order(taker))[0] == 201

        async def filled() -> bool:
            return await api.status(taker) == "filled"

        await wait_for(filled)
        assert node.settler.sent == 1 and node.settler.settled == 1
        assert any(m.startswith("eth_sendRawTransaction") for m in asked)  # (anvil: Sync)
        assert "eth_call" not in asked  # no pre-flight of the lone matchOrders


async def test_a_lone_match_that_reverts_is_mined_and_rejudged(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    # The watcher polls once and then not for an hour: the node cannot know that ALICE
    # moves her WETH away, so it settles against her order, alone.
    cfg = node_config(c, tmp_path / "n.db", poll_interval=3600.0)
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        alice = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_order(alice))[0] == 201
        c.weth.transfer(c.sender(ALICE), c.address(DAVE), c.weth.balance_of(c.address(ALICE)))
        start = int(c.rpc.call("eth_blockNumber"), 16)
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_order(taker))[0] == 201
        await wait_for(lambda: node.settler.failed == 1)
        spare = c.sign(ask(c, DAVE, E18, 3000 * E6))  # the taker's, once alice's failed
        assert (await api.post_order(spare))[0] == 201

        async def filled() -> bool:
            return await api.status(taker) == "filled"

        await wait_for(filled)
        assert await api.status(alice) == "unfunded"
        assert c.exchange.order_info(alice.order).filled == 0
        assert c.exchange.order_info(spare.order).filled == E18
        # the failing match was sent (no pre-flight kept it back), mined reverted; the
        # taker's rematch settled in a transaction of its own
        assert node.settler.sent == 2 and node.settler.settled == 1
        assert operator_statuses(c, node.settler.sender.address, start) == [0, 1]
