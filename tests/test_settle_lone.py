"""A lone match goes out as ``matchOrders`` with no pre-flight (real Hardhat, the node's
settler): no ``eth_call`` before its send. (One that fails is mined reverted and re-judged:
tests/test_node_settlement.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.chain.arpc import AsyncRpc
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid


def trace_methods(rpc: AsyncRpc) -> list[str]:
    """From now on, the method of every call ``rpc`` makes (the settler's sends' client),
    batched or not."""
    asked: list[str] = []
    call, batch = rpc.call, rpc.batch

    async def traced_call(method: str, *params: Any, timeout: float | None = None) -> Any:
        asked.append(method)
        return await call(method, *params, timeout=timeout)

    async def traced_batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        asked.extend(method for method, _ in calls)
        return await batch(calls)

    rpc.call = traced_call  # type: ignore[method-assign]
    rpc.batch = traced_batch  # type: ignore[method-assign]
    return asked


async def test_a_lone_match_is_sent_with_no_preflight(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        maker = c.sign(ask(c, CAROL, E18, 3000 * E6))
        assert (await api.post_taken(maker))[0] == 201
        asked = trace_methods(node.settler.async_sends.rpc)  # (the node's sends: async)
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_taken(taker))[0] == 201

        async def filled() -> bool:
            return await api.status(taker) == "filled"

        await wait_for(filled)
        assert node.settler.sent == 1 and node.settler.settled == 1
        assert any(m.startswith("eth_sendRawTransaction") for m in asked)  # (anvil: Sync)
        assert "eth_call" not in asked  # no pre-flight of the lone matchOrders
