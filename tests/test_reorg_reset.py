"""A chain reset whose store write is refused once (real Hardhat and SQLite; the refusal
injected): the old chain's fills are still announced as reverted when the reset goes
through (their deletion and the reset are one transaction)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.store import StoreError
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for, writer_stuck
from tests.test_mirror import Events, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask


async def test_a_reset_refused_once_still_announces_the_reverted_fills(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(node_config(c, tmp_path / "n.db", reorg_depth=2)) as (node, api):
        events = Events(await api.session.ws_connect(api.base + "/v1/ws"))
        try:
            assert (await api.post_order(whole))[0] == 201
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            assert await api.status(whole) == "filled"
            refused = {"n": 0}
            reset_chain = node.store.reset_chain

            async def refusing(identity: Any) -> Any:
                if refused["n"] == 0:
                    refused["n"] += 1
                    raise StoreError("disk full (injected)")
                return await reset_chain(identity)

            node.store.reset_chain = refusing  # type: ignore[method-assign]
            revert(c, snap)  # no kept header (2 deep) is on the new branch: a reset
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
            c.rpc.call("hardhat_mine", hex(6))
            await wait_for(lambda: node.watcher.resets == 1, timeout=30)
            await synced(node, c)
            assert refused["n"] == 1
            assert await api.status(whole) == "open"
            assert (await api.get("/v1/fills"))[1]["total"] == 0
            await wait_for(lambda: events.has("fill", "reverted", whole.hash_hex))
        finally:
            await events.close()


async def test_a_reset_never_blocks_the_event_loop_on_a_stalled_store(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: a reset's one transaction ran through the writer thread with a blocking
    ``.result()`` on the event loop: with a hung writer (a stuck disk) a devnet reset froze
    the node for good. Now it is awaited under ``store_wait``: ``/health`` says ``failing``
    (the store) while it is held, and the reset goes through once the store moves."""
    c = chain
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(node_config(c, tmp_path / "n.db", reorg_depth=2)) as (node, api):
        assert (await api.post_order(whole))[0] == 201
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        c.rpc.call("hardhat_mine", hex(4))
        await synced(node, c)
        w = node.watcher
        w.store_wait = 0.3

        async def failing() -> bool:
            return bool((await api.get("/health"))[1]["chain"] == "failing")

        with writer_stuck(node) as busy:
            revert(c, snap)  # no kept header (2 deep) is on the new branch: a reset
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
            c.rpc.call("hardhat_mine", hex(6))
            await wait_for(failing, timeout=30)
            assert not busy.done()  # the loop served while the writer was held
        await wait_for(lambda: node.watcher.resets == 1, timeout=30)
        await synced(node, c)
        assert await api.status(whole) == "open"
