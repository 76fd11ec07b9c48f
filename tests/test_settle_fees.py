"""The fees a settlement is signed with, on a real chain: read ahead under load, beside the
settlement (``sdex.settlement.gas.Fees``), never older than ``FEE_TTL``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.node import Node
from sdex.settlement.gas import FEE_READ_AHEAD, FEE_TTL
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
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
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await settle_one(c, node, api)  # (the fees read for it, at once)
        fees = node.settler.fees
        real_base = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        marked = 3 * real_base + 12_345  # a base fee the chain never had: which one signed
        loop = asyncio.get_running_loop()

        # Read a while ago, not expired: signed with them, no read awaited first; a read
        # ahead goes beside and replaces them.
        fees._cache = ((marked, TIP), loop.time() - (FEE_READ_AHEAD + FEE_TTL) / 2)
        tx = await settle_one(c, node, api)
        assert fee_cap(c, tx) == 2 * marked + TIP
        await wait_for(lambda: fees.reads_ahead == 1)
        assert fees._cache is not None and fees._cache[0][0] != marked

        # Expired: read before signing, not signed with them.
        fees._cache = ((marked, TIP), loop.time() - FEE_TTL - 0.01)
        tx = await settle_one(c, node, api)
        assert fee_cap(c, tx) != 2 * marked + TIP
        assert fees.reads_ahead == 1
