"""A chain whose head is one of the node's own blocks, below its head (real Hardhat, SQLite
and the node's websocket; the older ``latest`` answers are the chain's own blocks, injected
into the watcher's reads): a backend a few blocks behind, not a reorg. Nothing is undone,
``/health`` says ``behind`` until the chain answers its head again; a chain rewound to one
of our blocks (``evm_revert``, nothing mined on it) is undone only once it has answered so
for ``BEHIND_SECONDS``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import Events, meta, revert, synced
from tests.test_node import ALICE, BOB, E6, E18, ask


@pytest.mark.parametrize("lag", [1, 3])
async def test_a_backend_a_few_blocks_behind_is_not_a_reorg(
    chain: Chain, tmp_path: Path, lag: int
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w = node.watcher
        events = Events(await api.session.ws_connect(api.base + "/v1/ws"))
        try:
            whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
            assert (await api.post_order(whole))[0] == 201
            c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
            if lag > 1:
                c.rpc.call("hardhat_mine", hex(lag - 1))  # the fill `lag` blocks deep
            await synced(node, c)
            assert await api.status(whole) == "filled"
            top = int(c.rpc.call("eth_blockNumber"), 16)
            real = w.rpc.call
            state = {"lagging": True, "answered": 0}

            async def call(method: str, *params: Any) -> Any:
                latest = method == "eth_getBlockByNumber" and params[:1] == ("latest",)
                if state["lagging"] and latest:
                    state["answered"] += 1
                    return await real(method, hex(top - lag), False)  # (below the fill)
                return await real(method, *params)

            w.rpc.call = call  # type: ignore[method-assign]

            async def health_says(want: str) -> bool:
                return bool((await api.get("/health"))[1]["chain"] == want)

            await wait_for(lambda: health_says("behind"), timeout=20)
            await wait_for(lambda: state["answered"] >= 2, timeout=20)
            assert (w.reorgs, w.resets) == (0, 0)
            assert await api.status(whole) == "filled"
            state["lagging"] = False
            await wait_for(lambda: health_says("ok"), timeout=20)
            c.rpc.call("hardhat_mine", hex(1))
            await synced(node, c)
            assert (w.reorgs, w.resets) == (0, 0)
            m = await meta(api, whole)
            assert (m["status"], m["filledMakerAmount"]) == ("filled", str(E18))
            assert (await api.get("/v1/fills"))[1]["total"] == 1
            assert not events.has("fill", "reverted", whole.hash_hex), events.seen
            assert not any(e.get("event") == "reopened" for e in events.seen), events.seen
        finally:
            await events.close()


async def test_a_chain_rewound_to_one_of_our_blocks_is_undone_after_a_while(
    chain: Chain, tmp_path: Path
) -> None:
    """``evm_revert`` and nothing mined since: the chain's head is our block below the
    fill's; ``behind`` first, then (after ``BEHIND_SECONDS``) a reorg: the fill undone."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w = node.watcher
        whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_order(whole))[0] == 201
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        await synced(node, c)
        assert await api.status(whole) == "filled"
        seen: set[str] = set()

        def undone() -> bool:
            seen.add(w.status)
            return w.reorgs == 1

        revert(c, snap)
        await wait_for(undone, timeout=30)
        await synced(node, c)
        assert "behind" in seen and w.resets == 0
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("open", "0")
        assert (await api.get("/v1/fills"))[1]["total"] == 0
