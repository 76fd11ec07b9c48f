"""attack30: a contract maker (EIP-1271) whose ``isValidSignature`` answers by the gas left.

The node's reads see a valid signature; a settlement sees an invalid one. (Found live with a
wallet valid only with more than 2M gas left, as an ``eth_call`` without a gas field has;
``getOrderStates`` now gives a wallet 100,000 gas (``test_attack30_verdict_gas``), so the
wallet here is valid only with at most that much left, which a settlement exceeds.)
Before the fix, its resting ask took every honest crossing buy: each buy's settlement was
mined reverted three times (the operator paying each), found no one guilty (the chain's
state says both orders are fine), and removed the honest *incoming* buy ("settlement kept
failing") while the hostile ask stayed at the top of the book. Now the pre-flight runs with
the gas the transaction would carry, a contract maker's order is pre-flighted before its
first send, and a failure with no one guilty is the contract maker's when the other order
is signed by its own key: the hostile ask goes, the honest buy trades with the next ask."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sdex.chain.exchange import deploy, load_abi
from sdex.order import SignedOrder, sign_order
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid

OWNER = 5
OPERATOR = 19
GATE = 100_000
"""The wallet's answer is valid only with at most this much gas left: what the Exchange's
``getOrderStates`` gives it (``SIGNATURE_VIEW_GAS``); a settlement gives it more."""


def gas_gated_wallet(c: Chain, burn: bool = False, gate: int = GATE) -> str:
    w = deploy(c.sender(0), "ERC1271GasGatedWallet", c.address(OWNER), gate, burn)
    c.weth.transfer(c.sender(OWNER), w, 10 * E18)
    approve = load_abi("ERC1271GasGatedWallet").fn("approve")
    c.sender(OWNER).transact(w, approve.encode(c.weth.address, c.exchange.address, 2**256 - 1))
    return w


def block(c: Chain) -> int:
    return int(c.rpc.call("eth_blockNumber"), 16)


def operator_gas(c: Chain, since: int) -> tuple[int, int]:
    """(gas used, transactions reverted) of the operator's transactions after block ``since``."""
    used = reverted = 0
    for n in range(since + 1, block(c) + 1):
        b = c.rpc.call("eth_getBlockByNumber", hex(n), True)
        for tx in b["transactions"]:
            if tx["from"].lower() != c.address(OPERATOR).lower():
                continue
            r = c.rpc.call("eth_getTransactionReceipt", tx["hash"])
            used += int(r["gasUsed"], 16)
            reverted += r["status"] != "0x1"
    return used, reverted


def sent(c: Chain) -> int:
    """Transactions the operator has sent (mined, reverted or not)."""
    return int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"), 16)


@dataclass
class Crossing:
    """A contract wallet's ask at 250, an honest ask at 255, then an honest buy at 260, at a
    running node; ``mark`` is taken just before the buy is posted."""

    api: Api
    hostile: SignedOrder
    honest_ask: SignedOrder
    buy: SignedOrder
    mark: int


@contextlib.asynccontextmanager
async def hostile_ask_then_buy(
    c: Chain, tmp_path: Path, wallet: str, mark: Callable[[Chain], int]
) -> AsyncIterator[Crossing]:
    """The crossing above, yielded once the buy is removed or the honest ask filled."""
    hostile = sign_order(
        replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=wallet), c.domain, c.keys[OWNER]
    )
    honest_ask = c.sign(ask(c, CAROL, E18 // 10, 255 * E6))
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_taken(hostile))[0] == 201
        assert (await api.post_taken(honest_ask))[0] == 201
        before = mark(c)
        buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
        assert (await api.post_taken(buy))[0] == 201

        async def decided() -> bool:
            return await api.status(buy) == "removed" or await api.status(honest_ask) == "filled"

        await wait_for(decided, timeout=30.0)
        yield Crossing(api, hostile, honest_ask, buy, before)


async def test_a_gas_gated_contract_ask_does_not_remove_honest_buys(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with hostile_ask_then_buy(c, tmp_path, gas_gated_wallet(c), sent) as x:
        assert await x.api.status(x.buy) in ("filled", "partially_filled")  # (its price's rest)
        assert await x.api.status(x.honest_ask) == "filled"
        assert await x.api.status(x.hostile) == "removed"
        # what traded, in at most two transactions (the two matches may go as one batch
        # that skips the hostile one); before the fix: three reverted ones, then none
        assert sent(c) - x.mark <= 2


async def test_a_gas_burning_contract_ask_does_not_sink_a_batch(
    chain: Chain, tmp_path: Path
) -> None:
    """One buy sweeps three asks, the best a wallet that burns all the gas it is given when
    a settlement asks (valid to every ``eth_call``): the three matches go as one batch.
    Before the fix the batch's inline attempt and its per-match fallback both ran out of gas
    in the wallet, the whole bound (~0.8M gas) paid each try, the honest matches failing
    with it until the buy was removed. Now a contract maker's match goes alone, pre-flighted
    with its gas: the honest asks trade, the burner is removed, nothing reverted is mined."""
    c = chain
    w = gas_gated_wallet(c, burn=True)
    burner = sign_order(
        replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=w), c.domain, c.keys[OWNER]
    )
    honest = [c.sign(ask(c, m, E18 // 10, (251 + i) * E6)) for i, m in enumerate((CAROL, DAVE))]
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        for so in (burner, *honest):
            assert (await api.post_taken(so))[0] == 201
        await sweep_past_the_burner(c, api, burner, honest)


async def sweep_past_the_burner(
    c: Chain, api: Api, burner: SignedOrder, honest: list[SignedOrder]
) -> None:
    """A buy sweeping the burner's ask and the two honest ones above it: the honest asks
    trade, the burner is removed, nothing reverted is mined."""
    start = block(c)
    buy = c.sign(bid(c, BOB, 3 * E18 // 10, 3 * 260 * E6))
    assert (await api.post_taken(buy))[0] == 201

    async def decided() -> bool:
        states = [await api.status(so) for so in (buy, burner, *honest)]
        return states[0] == "removed" or states[1:] == ["removed", "filled", "filled"]

    await wait_for(decided, timeout=60.0)
    used, reverted = operator_gas(c, start)
    assert await api.status(buy) in ("partially_filled", "filled"), (used, reverted)
    assert [await api.status(so) for so in honest] == ["filled", "filled"]
    assert await api.status(burner) == "removed"
    assert reverted == 0
    assert used < 400_000, used  # two honest matches (~100-140k each)
