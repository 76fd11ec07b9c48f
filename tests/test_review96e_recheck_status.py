"""review96e: an order put on the recheck list by a refused read (store96's ``_read_later``) was
judged there by its filled amount alone (``_recheck_part``: again only if the chain's filled
amount differs or the chain reopened it): a ``filled`` order its maker then cancelled on chain
by its hash (the chain's word ``cancelled``: the contract tells a cancel before a fill or an
expiry), read while the store refused, stayed ``filled`` for good, where the block's own
judging (the store reading) closes it ``cancelled``.

Real Hardhat, a real node in this process on its SQLite store, the store's refusal a real
SQLite authorizer on its reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.refusedread import cancelled_on_chain, filled_forgotten


@pytest.mark.parametrize("refuse", [False, True])
async def test_a_filled_order_cancelled_on_chain_while_refused_is_cancelled(
    chain: Chain, tmp_path: Path, refuse: bool
) -> None:
    """ALICE's ask filled whole on chain by CAROL, closed ``filled``, evicted; ALICE cancels
    it on chain by its hash (with the reader refusing every read of the orders, or not):
    the store reading, the order is ``cancelled`` both ways (before: ``filled`` for good
    when refused)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        whole = await filled_forgotten(c, node, api)
        await cancelled_on_chain(c, node, api, whole, refuse)  # (before, refused: "filled")
