"""Order states read pinned to the mirror's head block (``StateBatcher.pin``, EIP-1898
``blockHash``): the maker's funds learned from them are exact at that block, so the node's
own first settlement of an account moves them by the amounts its receipt says instead of
reading them again (an ``eth_call`` batch on Hardhat's lock). A read pinned to a block the
chain took away (a reorg since) is not learned. Real Hardhat, a real node."""

from __future__ import annotations

from pathlib import Path

from sdex.mirror import Mirror
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all, trace_calls


def chain_funds(c: Chain, mirror: Mirror, maker: int, token: str) -> tuple[int, int]:
    owner = c.senders[maker].address
    t = c.weth if token == c.weth.address else c.usdc
    return t.balance_of(owner), t.allowance(owner, mirror.address)


async def test_a_first_settlement_of_accounts_learned_pinned_reads_no_funds(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w, m = node.watcher, node.mirror
        await wait_for(lambda: w.subscribed and w.caught_up.is_set() and m.pinned() is not None)
        asked = trace_calls(w.rpc)
        maker_ask, taker_bid = (
            c.sign(ask(c, CAROL, E18, 3000 * E6)),
            c.sign(bid(c, BOB, E18, 3000 * E6)),
        )
        accounts = [
            (c.senders[CAROL].address, c.weth.address),
            (c.senders[BOB].address, c.usdc.address),
        ]
        await post_all(api, [maker_ask])
        assert accounts[0] in m.funds and accounts[0] not in m.unsure  # (exact at the head)
        await post_all(api, [taker_bid])
        await wait_for(lambda: node.settler.sent == 1 and node.settler.idle.is_set())
        block = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: w.applied is not None and w.applied.number >= block)
        assert [p for meth, p in asked if meth == "eth_call"] == []  # (no funds re-read)
        for owner, token in accounts:  # moved by the receipt's amounts: as the chain says
            maker = c.index_of(owner)
            assert m.funds[(owner, token)] == chain_funds(c, m, maker, token)


async def test_a_read_pinned_to_a_block_the_chain_took_away_is_not_learned(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _api):
        w, m = node.watcher, node.mirror
        await wait_for(lambda: w.subscribed and w.caught_up.is_set())
        snap = c.rpc.call("evm_snapshot")
        c.rpc.call("evm_mine")
        top = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: m.head is not None and m.head.number == top)
        signed = c.sign(ask(c, DAVE, E18, 3000 * E6))
        state = await node.batcher.get(signed)
        assert m.head is not None and state.at == (top, m.head.hash)
        # the chain goes back and grows another branch past it: the watcher takes the reorg
        assert c.rpc.call("evm_revert", snap) is True
        stamp = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        reorgs = w.reorgs
        for k in (1, 2):
            c.rpc.call("evm_mine", stamp + 100 * k)  # (another timestamp: another hash)
        await wait_for(
            lambda: w.reorgs > reorgs and m.head is not None and m.head.number == top + 1
        )
        account = (signed.order.maker, signed.order.maker_token)
        assert account not in m.funds
        m.learn(signed, state, top)
        assert account not in m.funds  # (read on the branch that is gone)
        assert m.pinned() is None  # (the rewind: no pin until a head is seen again)
        c.rpc.call("evm_mine")
        await wait_for(lambda: (m.pinned() or (0, ""))[0] == top + 2)
        fresh = await node.batcher.get(signed)  # pinned to the new head: taken, exact
        assert fresh.at == m.pinned()
        m.learn(signed, fresh, top + 2)
        assert m.funds[account] == chain_funds(c, m, DAVE, c.weth.address)
        assert account not in m.unsure
