"""settle69 (resend68's left): the chain behind the URL replaced (a new chain, the same chain id,
the Exchange at the same address) before the watcher notices, while a settlement of the old
chain is pooled. resend68 checks the watcher's view only (``AsyncSends.viewed``), which has not
moved yet. The new chain knows nothing of the old one's transaction, unless its bytes were
sent there: anyone holding them can (the same chain id: the signature is valid there); here
the test does, into the new chain's pool, Hardhat automining over it. The lane found the
settlement pooled (on the new chain) and idle, signed a replacement and sent it there;
Hardhat refused it ("can't be queued when automining") and the lane sent a transfer of
nothing to mine the pool (``_nudge``): the old chain's match was mined on the new chain
(failed 1 of 1 before). Now ``_replace``'s check that it is still pooled asks, in the same
batch, for the block of the node's view (the Exchange's deployment block): another hash
there, nothing is signed nor sent. (Hardhat: it keeps a pool its automine resumed over.)"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chainnode import Engine
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_reorg60_reset_inflight import nonce
from tests.test_resend67_replaced_chain import replacing
from tests.test_resend68_replaced_chain import Calls, holding_proxy, pooled_match, replace_check


async def test_a_pooled_settlement_is_not_replaced_on_a_chain_the_watcher_has_not_seen_replaced(
    tmp_path: Path, engine: Engine
) -> None:
    if engine != "hardhat":
        pytest.skip("Hardhat keeps a pool its automine resumed over (anvil mines it)")
    old, new, c, c2 = replacing(engine)
    checks: list[str] = []  # (the upstream each of the lane's pooled checks went to)
    try:
        operator = c.address(19)
        deployed = nonce(new.rpc, operator)

        def seen(calls: Calls) -> bool:  # (never held: each request recorded)
            if replace_check(calls):  # (``_replace``'s ask)
                checks.append(proxy.upstream)
            return False

        async with holding_proxy(old.node.url, seen) as proxy:
            # the watcher polls once, at the start: it does not notice the replacement
            cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
            cfg = replace(cfg, poll_interval=3600.0)
            async with running_node(cfg) as (node, api):
                resting, _ = await pooled_match(c, old, node, api)
                (raw,) = [r for up, r in proxy.sent if up == old.node.url]
                # its bytes sent to the new chain by another, pooled there (Hardhat
                # automining over its pool), and the chain behind the URL replaced
                new.rpc.call("evm_setAutomine", False)
                new.rpc.call("eth_sendRawTransaction", raw)
                new.rpc.call("evm_setAutomine", True)
                proxy.upstream = new.node.url
                before = len(checks)
                # (the lane asks each poll; past ``STUCK_IDLE`` it found it stuck)
                s = node.settler
                await wait_for(
                    lambda: checks[before:].count(new.node.url) >= 3 or s.replace_refused > 0,
                    timeout=30,
                )
                sent_new = [r for up, r in proxy.sent if up == new.node.url]
                assert sent_new == [], "a transaction sent to the chain that replaced it"
                assert nonce(new.rpc, operator, "latest") == deployed  # (nothing mined there)
                assert c2.exchange.order_info(resting.order).filled == 0
                assert (s.replaced, s.replace_refused, s.pool_nudges) == (0, 0, 0)
    finally:
        old.stop()
        new.stop()
