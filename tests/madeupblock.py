"""A node in this process behind settle89's real loopback balancer (``sticky_balancer``) that
answers a block no chain has by its made-up hash, while told to lie, and passes the rest on:
the set-up of the tests of a liar's block read apart (review97b_row_denial_kept,
confirm98_gas_anchored)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_settle89_sticky_receipt import Said, sticky_balancer


@dataclass
class MadeUpBlock:
    """``eth_getBlockByHash`` of ``fake`` answered ``block`` while ``lying`` (the port asked
    added to ``told``), else passed on to the chain (the port added to ``denied``)."""

    fake: str
    block: dict[str, Any]
    lying: bool = True
    told: list[int] = field(default_factory=list)
    denied: list[int] = field(default_factory=list)

    def answer(self, call: object, port: int) -> Said:
        if not isinstance(call, dict) or call.get("method") != "eth_getBlockByHash":
            return None
        if (call.get("params") or [None])[0] != self.fake:
            return None
        if not self.lying:
            self.denied.append(port)
            return None  # (the chain's: no such block)
        self.told.append(port)
        return {"jsonrpc": "2.0", "id": call.get("id"), "result": self.block}


@asynccontextmanager
async def behind_liar(
    c: Chain, tmp_path: Path, liar: MadeUpBlock, **changes: Any
) -> AsyncIterator[Node]:
    """A node on ``tmp_path / "n.db"`` whose RPC is a sticky balancer answering ``liar``
    (``changes``: to its config, e.g. ``reorg_depth``)."""
    async with sticky_balancer(c.rpc.url) as b:
        b.answer = liar.answer
        async with running_node(
            replace(node_config(c, tmp_path / "n.db"), rpc=b.url, **changes)
        ) as (
            node,
            _,
        ):
            yield node
