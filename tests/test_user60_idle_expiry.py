"""user60: an order that expires while the chain idles stays on offer.

Found as a trader on `make demo KEEP=1` (Hardhat automine: no block without a transaction): a
sell signed with `--expiry 100` was still `open` a minute past its expiry, listed by
`sdex book`, `/v1/depth` and the page's book as an ask one could hit. A buy that crossed it
read only "no match: dropped (ioc), nothing traded" (the engine swept it then, unseen). The
node closed expired orders only when it applied a block or matched an order of that pair,
though it judges expiry by the chain's clock as the wall clock moves it (``chain_time``).
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack44_chain_clock import pending_time, taken_expiring_soon


async def test_an_order_expired_on_an_idle_chain_leaves_the_book(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_node, api):
        doomed = await taken_expiring_soon(c, api)
        expiry = doomed.order.expiry
        head = c.rpc.call("eth_blockNumber")
        await wait_for(lambda: pending_time(c) > expiry, timeout=30)  # the chain idles past it

        async def closed() -> bool:
            return await api.status(doomed) == "expired"

        await wait_for(closed, timeout=10)  # without a block, without a crossing order
        assert c.rpc.call("eth_blockNumber") == head  # (no block was mined meanwhile)
        params = {"baseToken": c.weth.address, "quoteToken": c.usdc.address}
        code, depth = await api.get("/v1/depth", **params)
        assert code == 200 and depth["asks"] == [], depth
        code, book = await api.get("/v1/orderbook", **params)
        assert code == 200 and book["asks"]["records"] == [], book
