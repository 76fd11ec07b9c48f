"""watch89: a block the newHeads feed announced that holds our settlement alone was applied
unread (``sdex.watch.blocks.own_alone``: its hash our receipt's, its ``transactionsRoot`` our
transaction's), its ``timestamp`` the feed's word only; the node's chain clock
(``chain_time``: the latest applied block's stamp) took it, and a feed that forged it a day
ahead had the node close an acknowledged resting order as expired (an hour left), for good.
The ``baseFeePerGas`` it kept is used by nothing but the announced fee, bounded on its own
(fee87, bounds84). Now such a block is taken unread only when its hash is proven of its
fields (``sdex.mirror.seal``: Keccak-256 of their RLP); else read as any other.

Real Hardhat, a real node behind a real loopback proxy joining the chain's newHeads feed
(``tests.headsproxy``), which forges the stamp of each announcement, the hash kept."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sdex.mirror.seal import sealed
from tests.conftest import Chain
from tests.headsproxy import heads_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all
from tests.test_sign79_feed import pay, until_applied

DAY = 86_400
SETTLEMENTS = 3


async def test_a_forged_stamp_on_our_own_block_closes_no_order(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    ahead: list[int] = []

    def forge(note: dict[str, Any]) -> dict[str, Any]:
        stamp = int(note["timestamp"], 16) + DAY
        ahead.append(stamp)
        return {**note, "timestamp": hex(stamp)}

    async with heads_proxy(c.rpc.url) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url)
        async with running_node(cfg) as (node, api):
            w = node.watcher
            await wait_for(lambda: w.subscribed and w.caught_up.is_set(), timeout=60)
            # an hour left: open till then (far from any trade's price)
            resting = c.sign(ask(c, ALICE, E18, 9000 * E6, expiry=int(time.time()) + 3600))
            assert (await api.post_order(resting))[0] == 201
            paid = pay(c, 1)  # (Hardhat's own announcements: sealed, taken unread as before)
            await until_applied(w, paid)
            said = w.feed.header_at(int(paid["number"], 16))
            assert said is not None and said.sealed, said
            proxy.rewrite = forge
            for i in range(SETTLEMENTS):  # our settlements, each alone in a block (automine)
                sent = node.settler.sent
                pair = [
                    c.sign(ask(c, CAROL, E18, 3000 * E6, salt=8951 + 2 * i)),
                    c.sign(bid(c, BOB, E18, 3000 * E6, salt=8952 + 2 * i)),
                ]
                await post_all(api, pair)
                await wait_for(lambda s=sent: node.settler.sent == s + 1, timeout=60)
                block = c.rpc.call("eth_getBlockByNumber", "latest", False)
                top = int(block["number"], 16)  # (the settlement's, or a later one's)
                await wait_for(lambda t=top: w.applied is not None and w.applied.number >= t)
                assert await api.status(resting) == "open", "closed on a forged stamp"
                assert node.chain_time() < int(block["timestamp"], 16) + DAY // 2
            assert ahead, "no announcement forged"
            assert not node.mirror.own and w.status == "ok", (w.status, w.problem)


async def test_the_chains_own_announcements_are_sealed(chain: Chain) -> None:
    """Hardhat's headers, as its feed and its reads give them, are proven of their fields
    (so its own blocks are still taken unread); one field changed, or one of a later fork
    left out before one present, is not."""
    block = chain.rpc.call("eth_getBlockByNumber", "latest", False)
    assert sealed(block), block
    assert not sealed({**block, "timestamp": hex(int(block["timestamp"], 16) + 1)})
    assert not sealed({**block, "baseFeePerGas": hex(int(block["baseFeePerGas"], 16) + 1)})
    assert not sealed({k: v for k, v in block.items() if k != "baseFeePerGas"})
    assert not sealed({**block, "extraData": "0x" + "00" * 5000})
    assert not sealed(None) and not sealed({**block, "hash": None})
