"""review89: while the node catches up (``HeadSignal.syncing``: each start, a reset's replay)
the settler's fee read (``Fees._read_placed``, the forty-first session's end) asks the chain
for its head's number (``eth_blockNumber``) and reads that block by it, then calls the read
``placed``, as the watcher's range reads are. But the number is the answer's own word, as
fee86's lie was: ``placed`` skips the bound past the head the node knows, keeps the read as
the bound of the next, and raises the head known (``_placed``, ``reached``) to it.

One endpoint's answer (a lying one, a balancer's backend on a chain far ahead) of a block
2,000 past the chain with a base fee at the ceiling is believed at once and signed with (a
fee cap of twice the ceiling a gas), and every later honest read of the chain is "below block
N read before": nothing is signed again on that chain till it reaches the lied number.

Real Hardhat (blocks mined while the node was away: the fee fell), a loopback proxy lying on
the two calls of that read, the node's own ``HeadSignal`` and ``Fees`` as its start sets
them (``sdex.node.core``: the deploy block read by number, ``syncing``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import FEE_STEPS, HeadSignal, base_fee_of
from sdex.errors import ChainError
from sdex.settlement.gas import Fees
from tests import test_bounds84_base_fee as b84
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.rpcfault import Answer, _answering, _proxy, raw_sends
from tests.test_reorg63_replaced_restart import FEES, OPERATOR, stored_pair

GWEI = 10**9
AHEAD = 2_000
"""How far past the chain's head the lie says it is (every fee within EIP-1559's reach)."""
FAR = 10**6
"""(A real node's) further: never reached in a test (a chain of 12 s blocks: 139 days)."""


@contextmanager
def far_ahead(c: Chain, lying: list[bool]) -> Iterator[tuple[str, int, int]]:
    """A proxy to ``c`` that, while ``lying[0]``, answers ``eth_blockNumber`` with a block
    ``AHEAD`` past the chain's head, and that block (asked by its number, or "latest") as the
    chain's latest with that number and a base fee at the ceiling: (its URL, the lied number,
    the lied fee)."""
    number = int(c.rpc.call("eth_blockNumber"), 16) + AHEAD
    fee = HeadSignal().ceiling

    def answer(call: object) -> dict[str, object] | None:
        if not lying[0] or not isinstance(call, dict):
            return None
        method, params = call.get("method"), call.get("params") or []
        if method == "eth_blockNumber":
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": hex(number)}
        if method == "eth_getBlockByNumber" and params[0] in (hex(number), "latest"):
            block: dict[str, Any] = dict(c.rpc.call("eth_getBlockByNumber", "latest", False))
            block.update(number=hex(number), baseFeePerGas=hex(fee))
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": block}
        return None

    def intercept(req: object) -> Answer | None:
        return _answering(c.rpc.url, req, answer)

    with _proxy(c.rpc.url, intercept) as url:
        yield url, number, fee


def _latest(c: Chain) -> tuple[int, int, dict[str, Any]]:
    raw = c.rpc.call("eth_getBlockByNumber", "latest", False)
    fee = base_fee_of(raw)
    assert fee is not None
    return int(raw["number"], 16), fee, raw


async def test_a_catch_up_read_of_a_lied_head_is_not_signed_with_nor_kept(chain: Chain) -> None:
    """(main: the lied fee signed with at once, then every honest read refused: failed.)"""
    c = chain
    deploy = c.rpc.call("eth_getBlockByNumber", hex(c.deployment.deploy_block), False)
    c.rpc.call("hardhat_mine", hex(64))  # (the node away: empty blocks, the fee falls)
    head: list[int | None] = [None]
    heads = HeadSignal(lambda: head[0])  # (the mirror's head: none yet)
    assert heads.read(c.deployment.deploy_block, base_fee_of(deploy), placed=True) is None
    heads.syncing = True  # (sdex.node.core's start)
    fees = Fees(heads)
    lying = [True]
    with far_ahead(c, lying) as (url, lied_number, lied_fee):
        rpc = AsyncRpc(url)
        try:
            try:  # (a start's reconcile signs before the watcher's catch-up: reorg63)
                signed: tuple[int, int] | None = await fees.current(rpc)
            except ChainError:
                signed = None  # (not signed with: the settler tries again)
            assert signed is None or signed[0] < lied_fee, (signed, lied_fee)  # main: the lie
            assert heads.read_fee is None or heads.read_fee[0] < lied_number, heads.read_fee
            lying[0] = False
            fees.forget()
            # the watcher's catch-up reads the chain by number, as far as it is
            number, fee, _ = _latest(c)
            head[0] = number
            heads.read(number, fee, placed=True)
            heads.read(number, fee, latest=True)  # (its poll of the latest: in reach, over)
            assert not heads.syncing
            c.rpc.call("hardhat_mine", hex(1))
            number, fee, _ = _latest(c)
            assert await fees.current(rpc) == (fee, GWEI)  # main: "below block N read before"
            assert not heads.refusing and heads.read_fee == (number, fee), heads.untrusted_why
        finally:
            await rpc.close()


@pytest.mark.parametrize("past", [0, FEE_STEPS + 1], ids=["in reach", "past the head known"])
async def test_an_honest_catch_up_read_is_signed_with(chain: Chain, past: int) -> None:
    """reorg63's restart (the reason ``_read_placed`` came; passed on main too): a start
    more than ``FEE_STEPS`` behind an honest chain whose fee fell signs with the chain's
    latest fee before the catch-up ends; within reach of the head known it ends it."""
    c = chain
    deploy = c.rpc.call("eth_getBlockByNumber", hex(c.deployment.deploy_block), False)
    c.rpc.call("hardhat_mine", hex(64))
    number, fee, _ = _latest(c)
    head: list[int | None] = [number - past]
    heads = HeadSignal(lambda: head[0])
    assert heads.read(c.deployment.deploy_block, base_fee_of(deploy), placed=True) is None
    heads.syncing = True
    rpc = AsyncRpc(c.rpc.url)
    try:
        assert await Fees(heads).current(rpc) == (fee, GWEI)
        assert heads.untrusted == 0 and not heads.refusing
    finally:
        await rpc.close()


@contextmanager
def lying_at_reconcile(c: Chain, pooled: str) -> Iterator[tuple[str, int, list[int]]]:
    """A proxy to ``c`` that lies as ``far_ahead`` (``FAR`` ahead) from the start's first
    read of the ``pooled`` transaction (its reconcile: the watcher's polls not begun) to its
    first ``eth_call`` after (the rows judged: ``unsettleable``, reading the fees first), or
    30 s:
    (its URL, the lied number, the base fees of the transactions sent through it)."""
    number = int(c.rpc.call("eth_blockNumber"), 16) + FAR
    fee = HeadSignal().ceiling
    window: list[float] = []  # (its start, monotonic; then -1 once over)
    signed: list[int] = []

    def answer(call: object) -> dict[str, object] | None:
        if not isinstance(call, dict):
            return None
        method, params = call.get("method"), call.get("params") or []
        if not window and pooled in json.dumps(params):
            window.append(time.monotonic())
        elif window and method == "eth_call":
            window[0] = -1.0
        lying = bool(window) and window[0] >= 0 and time.monotonic() - window[0] < 30
        if lying and method == "eth_blockNumber":
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": hex(number)}
        by_number = method == "eth_getBlockByNumber"
        if by_number and (params[0] == hex(number) or (lying and params[0] == "latest")):
            block: dict[str, Any] = dict(c.rpc.call("eth_getBlockByNumber", "latest", False))
            block.update(number=hex(number), baseFeePerGas=hex(fee))
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": block}
        return None

    def intercept(req: object) -> Answer | None:
        signed.extend(b84.signed_base_fee(r) for r in raw_sends(req)[1])
        return _answering(c.rpc.url, req, answer)

    with _proxy(c.rpc.url, intercept) as url:
        yield url, number, signed


async def test_a_restart_with_a_pooled_row_behind_a_lie_at_its_reconcile_settles(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node restarted with the last run's settlement pooled: its reconcile judges the
    row at the lane's fees of now (settle88), read while the node catches up, when the
    endpoint says a block far ahead at the ceiling's fee. (main: kept as the bound, every
    honest read after it refused, "below block N read before": a new pair never signed.
    With the lie 2,000 ahead, 2,796 reads refused till the test's mining passed it.)"""
    c = chain
    cfg, store, resting, incoming, data = stored_pair(c, tmp_path)
    operator = c.sender(OPERATOR)
    first = operator.sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(first.tx_hash, first.nonce, first.raw, pairs))
    store.close()
    c.rpc.call("evm_setAutomine", False)
    try:
        c.rpc.call("eth_sendRawTransaction", first.raw)  # (pooled: the node killed)
        with lying_at_reconcile(c, first.tx_hash) as (url, lied, signed):
            async with running_node(replace(cfg, rpc=url, new_heads=False)) as (node, api):
                heads = node.mirror.announced
                assert heads.read_fee is not None and heads.read_fee[0] < lied, heads.read_fee
                await wait_for(lambda: node.watcher.caught_up.is_set(), 60)
                pair = b84.own_pair(c)
                for o in pair:
                    code, body = await api.post_taken(o)
                    assert code == 201, body

                async def settled() -> bool:  # (a block each look: what was sent lands)
                    c.rpc.call("evm_mine")
                    statuses = {await api.status(o) for o in (*pair, resting)}
                    return statuses == {"filled"}

                await wait_for(settled, 90)  # main: "below block N read before", never signed
                assert signed and max(signed) < HeadSignal().ceiling, signed
    finally:
        c.rpc.call("evm_setAutomine", True)
