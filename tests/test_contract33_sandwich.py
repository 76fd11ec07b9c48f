"""contract33: an EOA maker's sandwich, blamed on the honest contract maker facing it.

Bob (an EOA) bids against an honest contract wallet's ask. Each time the operator sends the
settlement, Bob moves all his USDC out just before it (on Hardhat's automine: the block
before) and back just after (the block after). The settlement reverts for Bob's funds, but
the chain read after the fact shows them there: the failure was one nothing explained, and
it was blamed on the contract-signed side, the honest wallet's ask removed after three
("settlement kept failing"). Now the funds are read at the state the settlement ran
against (the block before its own, when it is alone in its block) and the wallet's
signature is checked alone: the failure is Bob's, and the wallet's ask stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import load_abi
from sdex.order import SignedOrder, sign_order
from sdex.settlement.blame import PAIR_TRIES
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import _proxy
from tests.sandwich import GWEI, SENDS, Hook, around, one_block, send_tx, usdc_to_carol
from tests.test_attack30_gas_gated_wallet import OPERATOR, OWNER, gas_gated_wallet
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_review32_untracked_contract_maker import ALWAYS

SANDWICHES = 4
"""More than ``MAX_SETTLE_FAILURES``: before the fix, the wallet's ask went at the third."""


def _is_send(req: object) -> bool:
    reqs = req if isinstance(req, list) else [req]
    return any(isinstance(r, dict) and r.get("method") in SENDS for r in reqs)  # (anvil: Sync)


def sandwicher(c: Chain, maker: int, rounds: int) -> tuple[Hook, list[int]]:
    """A proxy hook: before each of the first ``rounds`` sends through it, ``maker`` moves all
    its USDC to CAROL (mined at once); the send is forwarded; the funds come back once the
    chain has answered it. Returns the hook and its count of sandwiches."""
    return around(c, rounds, _is_send, *usdc_to_carol(c, maker))


def wallet_ask(c: Chain, wallet: str, price: int) -> SignedOrder:
    o = replace(ask(c, ALICE, E18 // 10, price * E6), maker=wallet)
    return sign_order(o, c.domain, c.keys[OWNER])


async def sandwiched_honest_ask(
    c: Chain, tmp_path: Path, sandwich: Callable[[Chain, int, int], tuple[Hook, list[int]]]
) -> list[int]:
    """An honest contract wallet's ask, then BOB's buy, BOB's funds out and back around each
    settlement (``sandwich``): the honest ask stays open, the buy is removed; ``sandwich``'s
    counts."""
    honest = wallet_ask(c, gas_gated_wallet(c, gate=ALWAYS), 250)
    intercept, done = sandwich(c, BOB, SANDWICHES)
    with _proxy(c.rpc.url, intercept) as rpc:
        cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            assert (await api.post_order(honest))[0] == 201
            buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
            assert (await api.post_order(buy))[0] == 201

            async def decided() -> bool:
                return "removed" in (await api.status(buy), await api.status(honest))

            await wait_for(decided, timeout=60.0)
            meta = (await api.get(f"/v1/orders/{honest.hash_hex}"))[1]["metaData"]
            assert meta["status"] == "open", meta  # before: removed, "settlement kept failing"
            assert await api.status(buy) == "removed"
    return done


async def test_an_eoa_sandwich_is_not_blamed_on_the_contract_maker(
    chain: Chain, tmp_path: Path
) -> None:
    done = await sandwiched_honest_ask(chain, tmp_path, sandwicher)
    assert done[0] >= 1


def usdc_wallet(c: Chain) -> str:
    """An honest contract wallet (owner OWNER) holding USDC approved to the Exchange."""
    w = gas_gated_wallet(c, gate=ALWAYS)
    c.usdc.transfer(c.sender(BOB), w, 1000 * E6)
    approve = load_abi("ERC1271GasGatedWallet").fn("approve")
    c.sender(OWNER).transact(w, approve.encode(c.usdc.address, c.exchange.address, 2**256 - 1))
    return w


async def test_a_hostile_contract_ask_does_not_remove_an_honest_contract_buy(
    chain: Chain, tmp_path: Path
) -> None:
    """Both sides contract-signed: a gas-gated wallet's ask (valid to reads, invalid in a
    settlement) and an honest wallet's buy. The failure nothing explained removed the
    incoming order only: the honest buy went after three, the hostile ask stayed. Now each
    wallet's signature is checked alone, with the settlement's gas: the ask is blamed and
    goes; the buy trades with the honest ask above it. Then the same hostile wallet signs a
    new ask: it had three tries again; now its maker is remembered, and it goes at its
    first failure."""
    c = chain
    hostile_wallet = gas_gated_wallet(c)
    hostile = wallet_ask(c, hostile_wallet, 250)
    honest_ask = c.sign(ask(c, CAROL, E18 // 10, 255 * E6))
    buy = sign_order(
        replace(bid(c, ALICE, E18 // 10, 260 * E6), maker=usdc_wallet(c)), c.domain, c.keys[OWNER]
    )
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        for so in (hostile, honest_ask, buy):
            assert (await api.post_order(so))[0] == 201

        async def decided() -> bool:
            return await api.status(buy) == "removed" or await api.status(honest_ask) == "filled"

        await wait_for(decided, timeout=60.0)
        meta = (await api.get(f"/v1/orders/{buy.hash_hex}"))[1]["metaData"]
        assert meta["status"] in ("filled", "partially_filled"), meta  # before: removed
        assert await api.status(hostile) == "removed"


async def test_a_hostile_wallets_new_order_goes_at_its_first_failure(
    chain: Chain, tmp_path: Path
) -> None:
    """A gas-gated wallet (valid to reads, invalid in a settlement) whose ask was removed for
    failing settlements signs a new one: each new order of it had three tries again (each
    a pre-flight, or with a wallet that fools pre-flights a reverted settlement the operator
    pays). Now its maker is remembered, and its new order goes at its first failure."""
    c = chain
    hostile_wallet = gas_gated_wallet(c)
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        for _ in range(2):  # (the buys fill whole: at the honest ask's price, no rest)
            hostile = wallet_ask(c, hostile_wallet, 250)
            honest = c.sign(ask(c, CAROL, E18 // 10, 260 * E6))
            buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
            for so in (hostile, honest, buy):
                assert (await api.post_order(so))[0] == 201

            async def decided(hostile: SignedOrder = hostile, honest: SignedOrder = honest) -> bool:
                return (await api.status(hostile), await api.status(honest)) == (
                    "removed",
                    "filled",
                )

            await wait_for(decided, timeout=60.0)
        rec = node.records[hostile.hash]  # (the second one)
        assert rec.failures == 1, (rec.failures, rec.reason)  # before: 3
        assert "failed settlements before" in rec.reason


def one_block_sandwicher(c: Chain, maker: int, rounds: int) -> tuple[Hook, list[int]]:
    """As ``sandwicher``, with the three transactions in one block (interval or batched
    mining): at the operator's send, mining stops and ``maker``'s transfer out waits with a
    high tip; once the settlement waits too, CAROL's transfer back is queued with no tip
    and one block is mined (Hardhat orders a block by tip: out, settlement, back)."""
    transfer = c.usdc.abi.fn("transfer")

    def move(frm: int, to: int, amount: int, tip: int) -> None:
        send_tx(c, frm, c.usdc.address, transfer.encode(c.address(to), amount), 100_000, tip)

    def out() -> int:
        amount = c.usdc.balance_of(c.address(maker))
        move(maker, CAROL, amount, 50 * GWEI)
        return amount

    return one_block(c, rounds, out, lambda amount: move(CAROL, maker, amount, 0))


async def test_an_eoa_sandwich_in_one_block_is_not_blamed_on_the_contract_maker(
    chain: Chain, tmp_path: Path
) -> None:
    """The sandwich of the first test, all in the settlement's own block: the block before
    shows the funds too; the block's own Transfer logs before the settlement say they were
    gone when it ran."""
    done = await sandwiched_honest_ask(chain, tmp_path, one_block_sandwicher)
    assert done[0] >= 1 and set(done[1:]) == {1}, done  # (out, settlement, back)


async def test_nothing_certain_blames_no_one_and_bars_the_pair(
    chain: Chain, tmp_path: Path
) -> None:
    """The one-block sandwich by a maker whose allowance is not unlimited: a transfer out of
    its account before the settlement may have been the Exchange's (spending the allowance)
    or its own, which its log does not say, so its funds at the settlement are not known
    exactly; the wallet's signature is valid alone. Nothing is certain: neither order is
    removed (before: the honest wallet's ask, after three), and after three failures the
    pair is not matched again (bounded: no fourth settlement paid for)."""
    c = chain
    c.usdc.approve(c.sender(BOB), c.exchange.address, 10**30)
    honest = wallet_ask(c, gas_gated_wallet(c, gate=ALWAYS), 250)
    intercept, done = one_block_sandwicher(c, BOB, 2 * SANDWICHES)
    with _proxy(c.rpc.url, intercept) as rpc:
        cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            assert (await api.post_order(honest))[0] == 201
            buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
            assert (await api.post_order(buy))[0] == 201

            async def barred() -> bool:
                removed = "removed" in (await api.status(buy), await api.status(honest))
                pairs = getattr(node, "barred_pairs", None)  # (none before the fix)
                return removed or (pairs is not None and pairs.barred(honest.hash, buy.hash))

            await wait_for(barred, timeout=60.0)
            await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)
            assert await api.status(honest) == "open"  # before: removed
            assert await api.status(buy) == "open"
            assert done[0] == PAIR_TRIES, done
            assert node.barred_pairs.barred(honest.hash, buy.hash)
