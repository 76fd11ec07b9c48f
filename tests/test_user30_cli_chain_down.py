"""``sdex order`` at a node that cannot read its chain (user30's trial, the devnet stopped
under running nodes): it said "error: Validation Failed (HTTP 503, code 100,
CHAIN_UNAVAILABLE): ...", the SRA's generic reason for a 4xx, though nothing about the order
failed and the node took nothing. It says so now, with the node's own words on the chain
and what to do. A real node on the test devnet, its chain cut by a proxy."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import E6, E18, ask
from tests.test_user29_cli_words import ALICE, cli, cuttable, key, one_line


async def test_an_order_at_a_node_cut_off_its_chain_says_nothing_was_posted(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with cuttable(c.deployment.rpc) as (rpc, cut):
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (_node, api):
            cut.set()

            async def unreachable() -> bool:
                _code, h = await api.get("/health")
                return bool(h.get("chain") == "unreachable")

            await wait_for(unreachable, timeout=60)
            r = await asyncio.to_thread(
                cli, "order", "buy", "2000", "1", "--node", api.base, "--key", key(c, ALICE)
            )
            assert r.exit_code == 1, r.output
            said = one_line(r.output)
            assert "Validation Failed" not in said, said
            assert (  # (user44: the node's words once, not twice)
                "error: nothing was posted: the node does not follow its chain now (it cannot "
                "reach the chain) and takes no orders until it does; try again later (HTTP 503, "
                "code 100, CHAIN_UNAVAILABLE)"
            ) in said, said
            _code, page = await api.get("/v1/orders")
            assert page["total"] == 0, page  # (nothing was posted, as said)
            # left48: the body says why in fields too (the wallet said it cut apart by regex)
            code, body = await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6)))
            assert (code, body["rejection"]) == (503, "CHAIN_UNAVAILABLE"), body
            why = "it cannot reach the chain"
            assert body["detail"] == {"chainStatus": "unreachable", "why": why}, body
            assert body["code"] == 100 and body["validationErrors"][0]["reason"] == (
                f"the node does not follow the chain now: {why}; try again"
            )  # (the SRA fields as they were)
