"""settle89 (left41, "Settlement"), on a real node: after a devnet reverted to a shorter branch
(``evm_revert`` 40 blocks back, 2 mined since), an answer for the latest block saying block
old height + 4 with a fee ~100 times the chain's is not signed with.

Before, the bound's height stayed the old branch's (``HeadSignal.reached``) till the chain
grew past it, and its fee fell to the highest kept at or below the fork point (here the
deploy block's: the watcher keeps a range's last block alone): the lie was within EIP-1559's
bounds over those blocks and the settlement signed with it (a fee cap of twice 100 gwei a
gas where the chain's is ~1). Hardhat mines the same empty blocks again after the revert
(same fee, same stamps): the fork point is the new head, no block of the new branch read.
Real Hardhat, a real node in this process; its settler's reads and sends (``Node.rpc``,
``Node.send_rpc``) moved behind bounds84's lying proxy once the reorg is applied (the
watcher's own reads stay on the chain: its polls read the real head)."""

from __future__ import annotations

from pathlib import Path

from sdex.chain.rpc import quantity
from tests import test_bounds84_base_fee as b84
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid

GWEI = 10**9
OLD = 40
"""Blocks the reverted branch had past the snapshot."""
WALK = 60
"""Empty blocks mined once the lie stops: the chain's fee, set to a gwei (a jump past EIP-1559's
reach of the floor, refused when its blocks were read), falls an eighth a block and the reach
of the floor rises an eighth: they meet within these (fee93's walk). review96b: before, the
fork block's fee was the floor after the reorg though refused when read (a liar's lie too),
and the node signed at once."""


async def test_a_shorter_branch_does_not_loosen_the_fee_bound(chain: Chain, tmp_path: Path) -> None:
    c = chain
    state = b84.Lying()
    price = 3000 + quantity(c.rpc.call("eth_blockNumber")) % 1000
    cfg = node_config(c, tmp_path / "n.db", new_heads=False)  # (the settler reads its fees)
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.status == "ok", 60)
        was = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        start = quantity(c.rpc.call("eth_blockNumber"))
        snap = c.rpc.call("evm_snapshot")
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(GWEI))
        c.rpc.call("hardhat_mine", hex(OLD))
        m = node.mirror
        await wait_for(lambda: m.head is not None and m.head.number >= start + OLD, 60)
        assert c.rpc.call("evm_revert", snap) is True
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(GWEI))
        c.rpc.call("evm_mine")
        c.rpc.call("evm_mine")
        head = c.rpc.call("eth_getBlockByNumber", "latest", False)

        def taken() -> bool:  # (the reorg applied: the mirror on the new, shorter branch)
            return m.head is not None and m.head.hash == head["hash"]

        await wait_for(taken, 60)
        assert node.watcher.reorgs >= 1 and node.watcher.resets == 0  # (a reorg, no reset)
        number = hex(start + OLD + 4)  # (4 past the old height)
        with b84.fee_lying(c.rpc.url, state, number=number) as url:
            node.rpc.url = node.send_rpc.url = url
            await node.rpc.close()  # (its kept-alive connections: the next reads go there)
            await node.send_rpc.close()
            try:
                state.lie = lambda fee, n: 100 * GWEI
                for o in (
                    ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price),
                    bid(c, BOB, E18 // 100, price * E6 // 100, salt=price),
                ):
                    code, body = await api.post_order(o)
                    assert code == 201, body
                await wait_for(lambda: state.lies >= 8 or bool(state.signed), 60)
                state.lie = None
                for _ in range(WALK):  # (review96b: the set fee believed once the walk reaches it)
                    c.rpc.call("evm_mine")
                await wait_for(lambda: node.settler.settled >= 1, 90)
            finally:
                c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(was))
                c.rpc.call("evm_mine")
        assert state.signed, "nothing sent"
        # before: signed with the lie, 100 gwei (the chain's ~1 gwei)
        assert max(state.signed) <= 4 * GWEI, state.signed
