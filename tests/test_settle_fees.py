"""The fees a settlement is signed with, on a real chain: read ahead under load, beside the
settlement (``sdex.settlement.gas.Fees``), never older than ``FEE_TTL``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from sdex.chain.arpc import AsyncRpc
from sdex.node import Node
from sdex.settlement import gas
from sdex.settlement.gas import FEE_READ_AHEAD, Fees
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, serving, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

TIP = 1_000_000_000


async def settle_one(c: Chain, node: Node, api: Api) -> str:
    """A crossing pair settled: the settlement's transaction hash."""
    sent = node.settler.sent
    assert (await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    assert (await api.post_order(taker))[0] == 201

    async def filled() -> bool:
        return await api.status(taker) == "filled"

    await wait_for(filled)
    assert node.settler.sent == sent + 1
    block = c.rpc.call("eth_getBlockByNumber", "latest", True)  # (automine: its own block)
    (tx,) = [t["hash"] for t in block["transactions"] if t["to"] == c.exchange.address.lower()]
    return str(tx)


def fee_cap(c: Chain, tx: str) -> int:
    return int(c.rpc.call("eth_getTransactionByHash", tx)["maxFeePerGas"], 16)


async def test_fees_are_read_ahead_beside_a_settlement_and_never_signed_expired(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ages are set before a settlement that takes a while on a loaded machine (two
    # orders posted, matched, signed): with the real 0.5 s between read-ahead and expiry, a
    # cache set a quarter second from expiry expired on the way (seen under load 14). The
    # rule is the same at any width: here read ahead at 30 s, expired at 60 s.
    ttl, ahead = 60.0, 30.0
    monkeypatch.setattr(gas, "FEE_TTL", ttl)
    monkeypatch.setattr(gas, "FEE_READ_AHEAD", ahead)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await settle_one(c, node, api)  # (the fees read for it, at once)
        fees = node.settler.fees
        fees.heads = None  # (the announced heads' fee: tests/test_settle_fees_heads.py)
        real_base = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        marked = 3 * real_base + 12_345  # a base fee the chain never had: which one signed
        loop = asyncio.get_running_loop()

        # Read a while ago, not expired: signed with them, no read awaited first; a read
        # ahead goes beside and replaces them.
        fees._cache = ((marked, TIP), loop.time() - (ahead + ttl) / 2)
        tx = await settle_one(c, node, api)
        assert fee_cap(c, tx) == 2 * marked + TIP
        await wait_for(lambda: fees.reads_ahead == 1)
        assert fees._cache is not None and fees._cache[0][0] != marked

        # Expired: read before signing, not signed with them.
        fees._cache = ((marked, TIP), loop.time() - ttl - 0.01)
        tx = await settle_one(c, node, api)
        assert fee_cap(c, tx) != 2 * marked + TIP
        assert fees.reads_ahead == 1


@pytest.fixture
async def fee_chain() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A loopback JSON-RPC whose latest block has ``state["base"]`` (as the read arrived) as
    its base fee; while ``state["gate"]`` is set, a read that arrives waits on it (a read
    held up behind the chain's mining); ``state["held"]``: reads that waited."""
    state: dict[str, Any] = {"base": 10, "gate": None, "held": 0}

    async def handle(r: web.Request) -> web.Response:
        call = await r.json()
        base, gate = state["base"], state["gate"]
        if gate is not None:
            state["held"] += 1
            await gate.wait()
        block = {"number": "0x1", "baseFeePerGas": hex(base)}
        return web.json_response({"jsonrpc": "2.0", "id": call["id"], "result": block})

    app = web.Application()
    app.router.add_post("/", handle)
    async with serving(app) as url:
        yield url + "/", state


async def held_read_ahead(fees: Fees, rpc: AsyncRpc, state: dict[str, Any]) -> asyncio.Event:
    """Fees ``FEE_READ_AHEAD`` old: the settlement signs with them and a read ahead starts,
    held at the chain until the gate returned is set."""
    gate, held = asyncio.Event(), state["held"]
    state["gate"] = gate
    cached = fees._cache
    assert cached is not None
    fees._cache = (cached[0], asyncio.get_running_loop().time() - FEE_READ_AHEAD)
    assert await fees.current(rpc) == cached[0]
    assert fees._ahead is not None
    await wait_for(lambda: state["held"] == held + 1, timeout=10)
    state["gate"] = None
    return gate


async def test_a_read_ahead_asked_before_a_forget_or_a_newer_read_is_not_kept(
    fee_chain: tuple[str, dict[str, Any]],
) -> None:
    """(Review: a read ahead always wrote its answer, over the fees read after a failed
    broadcast's ``forget`` or over a newer read's: a signature with older fees.)"""
    url, state = fee_chain
    rpc, fees = AsyncRpc(url), Fees()
    try:
        assert await fees.current(rpc) == (10, TIP)
        # a read ahead under way, then a failed broadcast forgets the fees: read again
        gate = await held_read_ahead(fees, rpc, state)
        ahead = fees._ahead
        assert ahead is not None
        fees.forget()
        state["base"] = 100
        assert await fees.current(rpc) == (100, TIP)
        gate.set()
        await wait_for(ahead.done, timeout=10)
        assert fees._cache is not None and fees._cache[0] == (100, TIP)
        # a read ahead that ends after a newer read: the newer one's fees stay
        gate = await held_read_ahead(fees, rpc, state)
        ahead = fees._ahead
        assert ahead is not None
        fees._cache, state["base"] = None, 50  # (expired: the next settlement reads)
        assert await fees.current(rpc) == (50, TIP)
        gate.set()
        assert await ahead == (100, TIP)
        assert fees._cache is not None and fees._cache[0] == (50, TIP)
    finally:
        fees.close()
        await rpc.close()
