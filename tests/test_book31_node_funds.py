"""Through a node's HTTP API on Hardhat: a maker's never-fundable order does not leave its
other orders unfunded (attack29: a maker with 1,000 WETH had all 7 orders ``unfunded``)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, E6, E18, ask


async def test_a_never_fundable_order_leaves_the_makers_others_funded(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    huge = c.sign(ask(c, ALICE, 2**255 - 1, 2**255 - 2))  # its one lot: all of it
    small = [c.sign(ask(c, ALICE, E18 // 10, 300 * E6 + i)) for i in range(3)]
    async with running_node(node_config(c, tmp_path / "n.db")) as (_node, api):
        for o in (huge, *small):
            code, body = await api.post_order(o)
            assert code == 201, body
        code, body = await api.get(f"/v1/orders/{huge.hash_hex}")
        assert code == 200 and body["metaData"]["status"] == "unfunded", body
        for o in small:
            code, body = await api.get(f"/v1/orders/{o.hash_hex}")
            assert code == 200 and body["metaData"]["status"] == "open", body
            assert body["metaData"]["remainingFillableMakerAmount"] == str(E18 // 10), body
