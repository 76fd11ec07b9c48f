"""A node whose start replay is held and whose held wallet order's state read hangs
(replay80, user81): the set-up of the tests that time a held order's verdict.

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback
(``tests/rpcfault.py``) holding the replay's last read and the order's ``getOrderStates``
read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sdex.chain.abi import ContractAbi
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import NOT_HUNG, Calls, Gate, gated_proxy
from tests.test_node import ask
from tests.test_outage79 import logs_from

E15 = 10**15


def state_reads(selector: str) -> Gate:
    """A gate on the intake's ``getOrderStates`` read (``selector``: its 0x-hex)."""

    def picks(calls: Calls) -> bool:
        for call in calls:
            p = call.get("params")
            if call.get("method") == "eth_call" and isinstance(p, list) and p:
                data = p[0].get("data") or p[0].get("input") if isinstance(p[0], dict) else None
                if isinstance(data, str) and data.startswith(selector):
                    return True
        return False

    return Gate(picks)


@dataclass
class HeldRead:
    node: Node
    api: Api
    replay: Gate
    """Holds the start replay's last read (released by ``taken_after_release``)."""
    read: Gate
    """Armed: the next ``getOrderStates`` read hangs."""
    signed: SignedOrder
    """A wallet's ask, not yet posted."""

    async def taken_after_release(self) -> None:
        """The read and the replay let go: once the mirror is ready, ``signed`` posted again
        is taken."""
        self.read.release.set()
        self.replay.release.set()
        await wait_for(self.node.mirror_ready, timeout=120)
        code, _ = await self.api.post_order(self.signed)  # (posted again: taken now)
        assert code == 201


@asynccontextmanager
async def held_order_read(c: Chain, tmp_path: Path, salt: int) -> AsyncIterator[HeldRead]:
    """A node on a fresh store (it replays from the deploy) whose replay's last read is held
    (not ready: a wallet's order is held) and whose next state read hangs; its ask salted
    ``salt`` plus the chain's head."""
    top = [int(c.rpc.call("eth_blockNumber"), 16)]  # (a fresh store replays from deploy)
    replay = logs_from(top)
    replay.armed.set()
    selector = "0x" + ContractAbi.load("Exchange").fn("getOrderStates").selector.hex()
    read = state_reads(selector)
    with gated_proxy(c.rpc.url, [replay, read]) as url:
        cfg = node_config(c, tmp_path / "n.db", rpc=url, new_heads=False)
        async with running_node(cfg) as (node, api):
            node.watcher.stall = NOT_HUNG  # (the held read is a slow replay, not a hang)
            await wait_for(replay.held.is_set, timeout=120)
            assert not node.mirror_ready()
            read.armed.set()  # (the held order's read, after its hold, hangs)
            signed = c.sign(ask(c, 1, E15, 3_000_000, salt=salt + top[0]))
            yield HeldRead(node, api, replay, read, signed)
