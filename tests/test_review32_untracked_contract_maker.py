"""review32: a contract maker whose 65-byte signature is not its own key's, and whose
verdict the mirror no longer tracks (``SigCache`` keeps ``max_makers`` contract makers, the
least recently used forgotten with no rejudging), was no contract maker to ``_suspect``
(it asked ``len(signature) != 65 or sigs.tracks(maker)``): its match was batched with the
honest ones, and a wallet burning all the gas it is given sank the batch (attack30's case,
back for any wallet signing with 65 bytes, e.g. a one-owner Safe, once 256 other contract
makers were seen). Here the bound is 1 and a second contract maker's order pushes the
burner out, as 256 would."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import deploy, load_abi
from sdex.order import sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack30_gas_gated_wallet import OPERATOR, OWNER, block, gas_gated_wallet
from tests.test_attack30_gas_gated_wallet import operator_gas as operator_gas
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid

ALWAYS = 2**256 - 1
"""A gate no call's gas is over: the wallet answers by its owner's signature alone."""


async def test_an_untracked_gas_burning_contract_ask_does_not_sink_a_batch(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    burning = gas_gated_wallet(c, burn=True)
    burner = sign_order(
        replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=burning), c.domain, c.keys[OWNER]
    )
    honest_wallet = gas_gated_wallet(c, gate=ALWAYS)
    far = sign_order(  # (rests far above the buy: only pushes the burner out of the cache)
        replace(ask(c, ALICE, E18 // 10, 1000 * E6), maker=honest_wallet),
        c.domain,
        c.keys[OWNER],
    )
    honest = [c.sign(ask(c, m, E18 // 10, (251 + i) * E6)) for i, m in enumerate((CAROL, DAVE))]
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        node.mirror.sigs.max_makers = 1  # (the 256 of a live node, past which the LRU goes)
        for so in (burner, far, *honest):
            assert (await api.post_order(so))[0] == 201
        assert not node.mirror.sigs.tracks(burning)  # (the setup: forgotten, still held)
        assert await api.status(burner) == "open"
        start = block(c)
        buy = c.sign(bid(c, BOB, 3 * E18 // 10, 3 * 260 * E6))
        assert (await api.post_order(buy))[0] == 201

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


def call_only_wallet(c: Chain) -> str:
    w = deploy(c.sender(0), "ERC1271CallOnlyWallet", c.address(OWNER))
    c.weth.transfer(c.sender(OWNER), w, 10 * E18)
    approve = load_abi("ERC1271CallOnlyWallet").fn("approve")
    c.sender(OWNER).transact(w, approve.encode(c.weth.address, c.exchange.address, 2**256 - 1))
    return w


async def test_a_contract_ask_valid_only_to_calls_costs_no_reverted_settlement(
    chain: Chain, tmp_path: Path
) -> None:
    """A wallet valid to any ``eth_call`` without a fee (``tx.gasprice`` 0) and invalid in
    any mined transaction: the pre-flight carried no fee, passed, and each of the ask's
    three tries was mined reverted, the operator paying; a fresh order of the same wallet
    (free to sign) three more. The pre-flight now carries the fees it is signed with."""
    c = chain
    w = call_only_wallet(c)
    hostile = sign_order(
        replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=w), c.domain, c.keys[OWNER]
    )
    honest_ask = c.sign(ask(c, CAROL, E18 // 10, 255 * E6))
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_order(hostile))[0] == 201
        assert (await api.post_order(honest_ask))[0] == 201
        start = block(c)
        buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
        assert (await api.post_order(buy))[0] == 201

        async def decided() -> bool:
            return await api.status(buy) == "removed" or await api.status(honest_ask) == "filled"

        await wait_for(decided, timeout=30.0)
        used, reverted = operator_gas(c, start)
        assert await api.status(buy) in ("filled", "partially_filled"), (used, reverted)
        assert await api.status(honest_ask) == "filled"
        assert await api.status(hostile) == "removed"
        assert reverted == 0, (used, reverted)
