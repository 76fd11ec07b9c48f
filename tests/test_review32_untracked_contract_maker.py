"""review32: a contract maker whose 65-byte signature is not its own key's, and whose
verdict the mirror no longer tracks (``SigCache`` keeps ``max_makers`` contract makers, the
least recently used forgotten with no rejudging), was no contract maker to ``_suspect``
(it asked ``len(signature) != 65 or sigs.tracks(maker)``): its match was batched with the
honest ones, and a wallet burning all the gas it is given sank the batch (attack30's case,
back for any wallet signing with 65 bytes, e.g. a one-owner Safe, once 256 other contract
makers were seen). Here the bound is 1 and a second contract maker's order pushes the
burner out, as 256 would."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import deploy, load_abi
from sdex.order import sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_attack30_gas_gated_wallet import (
    OPERATOR,
    OWNER,
    block,
    gas_gated_wallet,
    hostile_ask_then_buy,
    sent,
    sweep_past_the_burner,
)
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
        await sweep_past_the_burner(c, api, burner, honest)


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
    async with hostile_ask_then_buy(c, tmp_path, call_only_wallet(c), block) as x:
        api, buy, honest_ask, hostile = x.api, x.buy, x.honest_ask, x.hostile
        used, reverted = operator_gas(c, x.mark)
        assert await api.status(buy) in ("filled", "partially_filled"), (used, reverted)
        assert await api.status(honest_ask) == "filled"
        assert await api.status(hostile) == "removed"
        assert reverted == 0, (used, reverted)


async def test_contract_makers_between_honest_asks_do_not_send_the_honest_matches_alone(
    chain: Chain, tmp_path: Path
) -> None:
    """A buy sweeps six asks, every other one a contract maker's (honest wallets here): each
    contract maker's match goes alone, pre-flighted (attack30), and the batch was cut before
    the first of them, so the honest matches between went alone too, one transaction each
    (an ask of a contract wallet at every other price turned every match into a lone
    send). Now the honest matches of the next batch's span go together, the contract
    makers' keep their place for the next sends."""
    c = chain
    wallets = [gas_gated_wallet(c, gate=ALWAYS) for _ in range(3)]
    asks = []
    for i in range(6):
        price = (250 + i) * E6
        if i % 2 == 0:
            o = replace(ask(c, ALICE, E18 // 10, price), maker=wallets[i // 2])
            asks.append(sign_order(o, c.domain, c.keys[OWNER]))
        else:
            asks.append(c.sign(ask(c, (CAROL, DAVE, ALICE)[i // 2], E18 // 10, price)))
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        for so in asks:
            assert (await api.post_order(so))[0] == 201
        before = sent(c)
        buy = c.sign(bid(c, BOB, 6 * E18 // 10, 6 * 260 * E6))
        assert (await api.post_order(buy))[0] == 201

        async def decided() -> bool:
            states = [await api.status(so) for so in asks]
            return await api.status(buy) == "removed" or states == ["filled"] * 6

        await wait_for(decided, timeout=60.0)
        assert await api.status(buy) in ("filled", "partially_filled")  # (its price's rest)
        # three contract makers' lone sends and one batch of the three honest matches
        # (before: six lone sends)
        assert sent(c) - before <= 4, sent(c) - before


FAILED_PREFLIGHTS = 4
"""More than ``MAX_SETTLE_FAILURES``: before the fix, the honest wallet's ask went at 3."""


def operator_preflight(c: Chain, req: object) -> bool:
    """Is this JSON-RPC request the operator's pre-flight (an ``eth_call`` from it, with gas)?"""
    if not isinstance(req, dict) or req.get("method") != "eth_call":
        return False
    params = req.get("params") or [{}]
    call = params[0] if isinstance(params[0], dict) else {}
    return call.get("from", "").lower() == c.address(OPERATOR).lower() and "gas" in call


async def test_a_preflight_the_chain_did_not_answer_blames_no_contract_maker(
    chain: Chain, tmp_path: Path
) -> None:
    """The pre-flight of a contract maker's match fails for the node's own trouble (its RPC
    answers an error with no revert data, as geth's "insufficient funds for gas * price +
    value" for an operator short of ether, or a timeout): nothing was sent, and nothing
    says the order is bad. Such a failure was diagnosed as a settlement that failed with
    no one guilty, blamed on the contract-signed side: after three, an honest wallet's ask
    was removed ("settlement kept failing"). Now it is given back, like a match never
    sent, and trades once the RPC answers."""
    c = chain
    lock = threading.Lock()
    failed = [0]

    def intercept(req: object) -> Answer | None:
        if not operator_preflight(c, req):
            return None
        with lock:
            if failed[0] >= FAILED_PREFLIGHTS:
                return None
            failed[0] += 1
        error = {"code": -32000, "message": "insufficient funds for gas * price + value"}
        return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}).encode()

    w = gas_gated_wallet(c, gate=ALWAYS)
    wallet_ask = sign_order(
        replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=w), c.domain, c.keys[OWNER]
    )
    with _proxy(c.rpc.url, intercept) as rpc:
        cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            assert (await api.post_order(wallet_ask))[0] == 201
            buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
            assert (await api.post_order(buy))[0] == 201

            async def decided() -> bool:
                return await api.status(wallet_ask) in ("filled", "removed")

            await wait_for(decided, timeout=60.0)
            meta = (await api.get(f"/v1/orders/{wallet_ask.hash_hex}"))[1]["metaData"]
            # before: "removed", "settlement kept failing"
            assert meta["status"] == "filled", meta
            assert failed[0] == FAILED_PREFLIGHTS  # (the pre-flights did fail)
            assert await api.status(buy) in ("filled", "partially_filled")


async def test_a_preflight_out_of_gas_without_revert_data_still_removes_the_burner(
    chain: Chain, tmp_path: Path
) -> None:
    """geth answers a call that ran out of gas with an error and no revert data ("out of
    gas"): the pre-flight of a gas-burning wallet's match so fails as no revert does. It is
    the order's doing, not the node's: still diagnosed and blamed on the contract maker,
    never given back unsent to be pre-flighted again without end."""
    c = chain

    def intercept(req: object) -> Answer | None:
        if not operator_preflight(c, req):
            return None
        error = {"code": -32000, "message": "out of gas"}  # (geth's words)
        return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}).encode()

    w = gas_gated_wallet(c, burn=True)
    burner = sign_order(
        replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=w), c.domain, c.keys[OWNER]
    )
    honest_ask = c.sign(ask(c, CAROL, E18 // 10, 255 * E6))
    with _proxy(c.rpc.url, intercept) as rpc:
        cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            assert (await api.post_order(burner))[0] == 201
            assert (await api.post_order(honest_ask))[0] == 201
            buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
            assert (await api.post_order(buy))[0] == 201

            async def decided() -> bool:
                return await api.status(burner) == "removed"

            await wait_for(decided, timeout=30.0)

            async def traded() -> bool:  # (its settlement may still be under way)
                return await api.status(honest_ask) == "filled"

            await wait_for(traded, timeout=30.0)
