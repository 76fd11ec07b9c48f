"""review97f: after a run of the node's own settlements, transfers of others between them,
and blocks holding both, the mirror's funds of every account it holds are the chain's
(balanceOf, allowance to the Exchange), and the book's of every account it holds too.

settle98 moves an own settlement's accounts by the amounts of the ``Transfer`` logs the
watcher reads (its receipt not noted yet), a noted receipt's by its transfers, and re-reads
the accounts others' logs touch (or an account read at "latest"): a figure moved twice, or
moved where it should have been read, shows here as a difference from the chain. Real
Hardhat, a real node in this process; the run is drawn from a fixed seed."""

from __future__ import annotations

import random
from pathlib import Path

from eth_abi import encode

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_settle98_funds_reread import head, spendable
from tests.test_settlement_pipeline import post_all

TRANSFER_SELECTOR = "0xa9059cbb"


def send_transfer(c: Chain, token: str, sender: int, to: int, amount: int) -> str:
    """A token transfer sent from an unlocked Hardhat account, not waited for (mined with
    whatever the next block holds)."""
    data = TRANSFER_SELECTOR + encode(["address", "uint256"], [c.address(to), amount]).hex()
    tx = {"from": c.address(sender), "to": token, "data": data, "gas": hex(100_000)}
    return str(c.rpc.call("eth_sendTransaction", tx))


def pending(c: Chain) -> int:
    """Transactions in the chain's pending block."""
    return len(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])


async def test_mirror_and_book_funds_equal_the_chain_after_a_mixed_run(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    rng = random.Random(97)
    people = [ALICE, BOB, CAROL, DAVE]
    tokens = [c.weth.address, c.usdc.address]
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        settled = mixed = 0
        for step in range(10):
            kind = rng.choice(["own", "outside", "both"])
            seller, buyer = rng.sample(people, 2)
            base = rng.randint(1, 20) * E18 // 100
            quote = base * 3000 * E6 // E18
            if kind == "outside":
                token = rng.choice(tokens)
                frm, to = rng.sample(people, 2)
                send_transfer(c, token, frm, to, rng.randint(1, 10**6))
                await wait_for(lambda: node.watcher.unapplied.applied >= head(c), timeout=60)
                continue
            if kind == "both":  # (the settlement and another's transfer in one block)
                c.rpc.call("evm_setAutomine", False)
            try:
                await post_all(api, [c.sign(ask(c, seller, base, quote, salt=10_000 + step))])
                await post_all(api, [c.sign(bid(c, buyer, base, quote, salt=20_000 + step))])
                if kind == "both":
                    await wait_for(lambda: pending(c) >= 1, timeout=60)  # (ours sent)
                    send_transfer(c, c.weth.address, seller, rng.choice(people), 10**6)
                    send_transfer(c, c.usdc.address, buyer, seller, 1000)
                    c.rpc.call("evm_mine")
                    block = c.rpc.call("eth_getBlockByNumber", "latest", False)
                    mixed += len(block["transactions"]) >= 3  # (ours and the two others)
            finally:
                c.rpc.call("evm_setAutomine", True)
            settled += 1
            await wait_for(lambda n=settled: node.settler.settled == n, timeout=60)  # type: ignore[misc]
        assert mixed >= 3  # (blocks holding an own settlement and others' transfers)
        c.rpc.call("evm_mine")
        await wait_for(lambda: node.watcher.unapplied.applied >= head(c), timeout=60)
        await wait_for(lambda: not node.watcher._unsure, timeout=60)
        checked = 0
        for account, (balance, allowance) in sorted(node.mirror.funds.items()):
            token = c.weth if account[1] == c.weth.address else c.usdc
            if account[1] not in tokens or account in node.mirror.unsure:
                continue
            chain_has = (
                token.balance_of(account[0]),
                token.allowance(account[0], c.exchange.address),
            )
            assert (balance, allowance) == chain_has, account
            checked += 1
        assert checked >= 4
        for who in people:
            for t in tokens:
                if node.registry.holds_account((c.address(who), t)):
                    assert node.book.funds(c.address(who), t) == spendable(c, (c.address(who), t))
