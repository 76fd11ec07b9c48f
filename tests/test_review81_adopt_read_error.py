"""review81: a pooled settlement whose receipt the start's adoption could not read is adopted,
its orders held, not given up.

``NodeSettlement._adopt`` reads each pooled row's receipt after the head (review66). One
error from the endpoint on that read (a backend's hiccup) gave the row up (``dropped``),
its orders free: the start's uncross matched them again at the next nonce while the first
bytes stayed pooled; both landed, the second reverted (a paid revert, its matches shown
failed). Now such a row is adopted unread, as doubt80 adopts one in a chain doubt: its wait
judges it, a receipt at or below the head the start loaded its orders at given back, not
counted twice (``counted_at_start``).

Real Hardhat (mining paused: the row pooled), a real node and SQLite store, a real proxy on
loopback answering the receipt ask that follows the adoption's ``eth_blockNumber`` with a
JSON-RPC error."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.chain.tx import SignedTx
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, saved_head, wait_for
from tests.rpcfault import Answer, _errors, _proxy
from tests.test_reorg63_replaced_restart import OPERATOR, stored_pair
from tests.test_settle65_adopt_ioc import stored_pooled

Proxy = Callable[[str], AbstractContextManager[tuple[str, list[int]]]]
"""A proxy to an upstream refusing one of the start's reads: its URL and refusals."""


@contextmanager
def receipt_error_proxy(upstream: str) -> Iterator[tuple[str, list[int]]]:
    """A proxy to ``upstream`` answering the first receipt ask after the first
    ``eth_blockNumber`` (the adoption's head read) with an error; and how many it refused."""
    armed, refused = threading.Event(), [0]
    guard = threading.Lock()

    def intercept(req: object) -> Answer | None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        methods = {str(c.get("method", "")) for c in calls}
        with guard:
            if "eth_blockNumber" in methods:
                armed.set()
                return None
            if not armed.is_set() or refused[0] or "eth_getTransactionReceipt" not in methods:
                return None
            refused[0] += 1
        return 200, json.dumps(_errors(req)).encode()

    with _proxy(upstream, intercept) as url:
        yield url, refused


async def test_a_receipt_read_error_at_adoption_gives_up_nothing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg, store, resting, incoming, _ = stored_pair(c, tmp_path)
    tx = await stored_pooled(c, store, resting, incoming)  # (mining paused)
    await adopted_alone(c, cfg, receipt_error_proxy, resting, tx)


@contextmanager
def head_error_proxy(upstream: str) -> Iterator[tuple[str, list[int]]]:
    """A proxy to ``upstream`` answering every ``eth_blockNumber`` with an error till the
    test appends to the list it yields (once the node started: the adoption's head read
    among them; reconcile's look at the pool's mining too); and how many it refused."""
    refused = [0]
    guard = threading.Lock()

    def intercept(req: object) -> Answer | None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        with guard:
            if len(refused) > 1 or not any(c.get("method") == "eth_blockNumber" for c in calls):
                return None
            refused[0] += 1
        return 200, json.dumps(_errors(req)).encode()

    with _proxy(upstream, intercept) as url:
        yield url, refused


async def test_a_head_read_error_at_adoption_gives_up_nothing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adoption's read of the chain's head refused, the store's saved head there: the
    pooled row is adopted unread as loaded at that head (before: given up, its orders
    matched again at the next nonce while it stayed pooled, the second a paid revert)."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    first = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    async with running_node(first):  # (a saved head: the block the next start loads at)
        top = quantity(c.rpc.call("eth_blockNumber"))
        await wait_for(lambda: saved_head(first.db) >= top, timeout=30)
    cfg, store, resting, incoming, _ = stored_pair(c, tmp_path)
    tx = await stored_pooled(c, store, resting, incoming)  # (mining paused)
    await adopted_alone(c, cfg, head_error_proxy, resting, tx)


async def adopted_alone(
    c: Chain, cfg: NodeConfig, proxy: Proxy, resting: SignedOrder, tx: SignedTx
) -> None:
    """``cfg``'s node started behind ``proxy`` (one refusal at its adoption), ``tx`` pooled:
    it is adopted and settles alone, nothing else sent (mining resumed once it is held)."""
    operator = c.address(OPERATOR)
    try:
        with proxy(c.rpc.url) as (url, refused):
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                assert refused[0] >= 1  # (the adoption's read failed)
                refused.append(0)  # (no more refusals: the node started)
                held = node.settler.adopted, tx.tx_hash in node.settler.in_flight
                # (before: its orders matched again, signed and sent while it stays pooled)
                await wait_for(lambda: node.settler.adopted == 1 or node.settler.sent >= 1, 30)
                c.rpc.call("evm_setAutomine", True)
                c.rpc.call("evm_mine")

                async def settled() -> bool:
                    pending = c.rpc.call("eth_getBlockByNumber", "pending", False)
                    return (
                        await api.status(resting) == "filled"
                        and node.settler.idle.is_set()
                        and not pending["transactions"]
                    )

                await wait_for(settled, timeout=60)
                count = quantity(c.rpc.call("eth_getTransactionCount", operator, "latest"))
                # before: given up, its orders matched again at the next nonce: both mined,
                # the second reverted (a paid revert)
                assert count == tx.nonce + 1, f"{count - tx.nonce} settlements sent"
                assert held == (1, True), held
    finally:
        c.rpc.call("evm_setAutomine", True)
