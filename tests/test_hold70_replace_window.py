"""hold70 (settle69's window): the chain behind the URL replaced (a new chain, the same chain
id, the Exchange at the same address) right after ``_replace``'s batch found the settlement
pooled on the old chain, the view's block there: the watcher has not noticed (it polls no
more). Before, the replacement's fee read, its signature, its record and its send came after
that batch with nothing asked of the chain again: the replacement (the old chain's match at
higher fees) went to the new chain, which has its nonce free (both deployed alike), and was
mined there (failed 3 of 3 before). Now the fees come in that batch and the view's block is
asked again once the replacement is recorded, right before its send: another hash there,
nothing is sent, its row dropped. (Hardhat: it keeps a pool its automine resumed over.)"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from sdex.chainnode import Engine
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_reorg60_reset_inflight import nonce
from tests.test_resend68_replaced_chain import (
    hardhat_replacing,
    holding_proxy,
    pooled_match,
    replace_check,
)


def rows(db: Path) -> dict[str, str]:
    """The node's settlement rows: status by transaction hash."""
    with sqlite3.connect(db) as conn:
        return {str(h): str(s) for h, s in conn.execute("SELECT tx_hash, status FROM settlements")}


async def test_a_replacement_is_not_sent_to_a_chain_replaced_after_its_pooled_check(
    tmp_path: Path, engine: Engine
) -> None:
    with hardhat_replacing(engine) as (old, new, c, c2, deployed):
        db = tmp_path / "n.db"
        # the pooled check answered by the old chain, every request after it by the new one
        async with holding_proxy(old.node.url, replace_check, new.node.url) as proxy:
            proxy.release.set()  # (its answer not held: the switch comes within it)
            cfg = replace(node_config(c, db, rpc=proxy.url, new_heads=False), poll_interval=3600.0)
            async with running_node(cfg) as (node, api):
                resting, taker = await pooled_match(c, old, node, api)
                old.rpc.call("evm_setAutomine", True)  # (Hardhat mines nothing of its pool)
                s = node.settler
                # (past ``STUCK_IDLE`` the lane asks; a replacement signed is recorded first)
                await wait_for(
                    lambda: (
                        s.replaced + s.replace_refused > 0
                        or "dropped" in list(rows(db).values())[1:]
                    ),
                    timeout=30,
                )
                assert proxy.held and node.watcher.resets == 0  # (the switch unnoticed)
                sent_new = [r for up, r in proxy.sent if up == new.node.url]
                assert sent_new == [], "the old chain's replacement sent to the new chain"
                # (nothing mined there)
                assert nonce(new.rpc, c.address(19), "latest") == deployed
                assert c2.exchange.order_info(resting.order).filled == 0
                assert c2.exchange.order_info(taker.order).filled == 0
                assert (s.replaced, s.replace_refused, s.pool_nudges) == (0, 0, 0)
                assert list(rows(db).values()) == ["pending", "dropped"]
