"""blame39: an EOA that a listed token refuses (USDC's and USDT's blacklist) was never
blamed: its balance and allowance read fine, its signature is its own key's, and the match
fails even with the contract wallet facing it stubbed valid (review38), so nobody was
certain. Its order stayed in the book for ever; each new counterparty pair cost up to three
pre-flights, each new honest order facing it a reverted transaction.

Now, once nothing else explains the failure, each leg's ``transferFrom(maker, <fresh
address>, amount)`` is called from the Exchange at the state the settlement met: the token
that refuses one maker and not the other names it, and that order is blamed (removed once
its maker is blamed twice); the honest side stays.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.book.types import Side
from sdex.deployment import TokenInfo
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.order import SignedOrder, sign_order
from sdex.settlement.blame import account
from sdex.settlement.refusal import refusals as _refusals
from tests.conftest import Chain
from tests.sandwich import blacklist_token, block, listing, node_on, pair_decided
from tests.test_attack30_gas_gated_wallet import OWNER, gas_gated_wallet
from tests.test_node import ALICE, BOB, E6, E18
from tests.test_review32_untracked_contract_maker import ALWAYS


async def _blocked_bob_against(c: Chain, tmp_path: Path, ask_of: str) -> None:
    blt = blacklist_token(c)
    ask: SignedOrder
    if ask_of == "wallet":
        wallet = gas_gated_wallet(c, gate=ALWAYS)  # (honest: valid at any gas)
        order = replace(c.order(ALICE, c.weth, E18 // 10, blt, 250 * E6), maker=wallet)
        ask = sign_order(order, c.domain, c.keys[OWNER])
    else:
        c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
        ask = c.sign(c.order(ALICE, c.weth, E18 // 10, blt, 250 * E6))
    buy = c.sign(c.order(BOB, blt, 260 * E6, c.weth, E18 // 10))
    async with node_on(
        c, tmp_path, tokens=listing({"WETH": None, "BLT": TokenInfo(blt.address, 6)})
    ) as (node, api):
        assert (await api.post_taken(ask))[0] == 201
        block(c, blt, BOB)
        assert (await api.post_taken(buy))[0] == 201
        await pair_decided(node, api, ask, buy)
        assert await api.status(buy) == "removed"  # before: open for ever, the pair barred
        assert await api.status(ask) == "open"
        assert node.blamed_makers.score(c.address(BOB)) >= 1.0
        assert not node.blamed_makers.hostile(ask.order.maker)
        assert not node.barred_pairs.barred(ask.hash, buy.hash)


async def test_a_blocked_eoa_facing_a_contract_wallet_is_blamed(
    chain: Chain, tmp_path: Path
) -> None:
    await _blocked_bob_against(chain, tmp_path, "wallet")


async def test_a_blocked_eoa_facing_an_eoa_is_blamed(chain: Chain, tmp_path: Path) -> None:
    await _blocked_bob_against(chain, tmp_path, "eoa")


@pytest.mark.parametrize(
    ("blocked", "allowance", "named"),
    [
        (False, 2**256 - 1, None),  # (both move: nobody)
        (True, 2**256 - 1, "buy"),  # (the token refuses Bob, Alice's moves)
        (True, 0, None),  # (Bob not funded: a refusal would be a shortfall, not probed)
        (False, 0, None),
    ],
)
def test_the_refusal_probe_names_only_a_funded_refused_maker(
    chain: Chain, blocked: bool, allowance: int, named: str | None
) -> None:
    c = chain
    blt = blacklist_token(c, allowance)
    c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    if blocked:
        block(c, blt, BOB)
    ask = c.sign(c.order(ALICE, c.weth, E18 // 10, blt, 250 * E6))
    buy = c.sign(c.order(BOB, blt, 250 * E6, c.weth, E18 // 10))
    m = Match(ask, buy, MatchAmounts(E18 // 10, 250 * E6, 0, 0), Side.BID)
    at = hex(int(c.rpc.call("eth_blockNumber"), 16))
    raw = {s.hash: s for s in c.exchange.order_states([ask, buy], at)}
    got = _refusals(c.rpc, c.exchange.address, [m], at, raw, set(), {}, {})
    assert got == ({} if named is None else {(ask.hash, buy.hash): buy.hash})
    # a doubtful account (moved before the settlement in its block) is never named
    assert _refusals(c.rpc, c.exchange.address, [m], at, raw, {account(buy)}, {}, {}) == {}
