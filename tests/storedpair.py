"""A crossing pair stored open in a node's store before its start, as a previous run left it
(review66, doubt80, doubt81, doubt82): the set-up of the tests of a restart's pending rows."""

from __future__ import annotations

from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


def stored_pair(c: Chain, cfg: NodeConfig, seq: int = 1) -> tuple[SignedOrder, SignedOrder, Store]:
    """ALICE's ask of 2 WETH and BOB's bid crossing it, stored open (sequence ``seq`` and
    the next) in ``cfg``'s store, opened here on the deployment's chain: both, and the store
    (the caller closes it)."""
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, seq, "open", "api")
    store.add_order(incoming, seq + 1, "open", "api")
    return resting, incoming, store
