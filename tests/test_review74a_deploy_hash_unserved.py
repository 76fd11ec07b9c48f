"""review74a: a chain replaced while the node was down, behind an endpoint that does not
serve ``eth_getBlockByHash`` (a method allowlist's proxy: no other read of the node needs it).

review73's start asks the chain whether it still holds the database's deployment block by
its hash before taking the new one (``Node._deploy_hash``): refused, the start failed, "the
chain's deployment block not read again", at every try, until the database was deleted. It
reads that block by its number a second time instead: another hash again, a replaced chain
(reset70's reset at the start, the orders kept). Real Hardhat, a real node and SQLite store,
a real proxy on loopback answering the method with each fault (``tests/rpcfault.py``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.rpcfault import faulty_proxy
from tests.test_node import ALICE, E6, E18, ask
from tests.test_reset70_restart_replaced import walked


@pytest.mark.parametrize("fault", ["403", "-32600", "-32601"])
async def test_a_replaced_chain_is_reset_at_the_start_without_get_block_by_hash(
    chain: Chain, tmp_path: Path, fault: str
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    gone = "0x" + "ab" * 32  # (the deployment block of a chain replaced since)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, gone), c.domain)
    store.add_order(resting, 1, "open", "api")
    store.close()
    with faulty_proxy(c.rpc.url, "eth_getBlockByHash", fault) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, api):  # (was ChainError)
            assert node.watcher.identity.deploy_block_hash.lower() != gone
            await walked(node)  # (reset74: the start's walk runs once the node is ready)
            assert not node.store.rebuilt and not node.store.rejudge_due  # (reset, walked)
            assert await api.status(resting) == "open"
