"""review45: during a token admin's global pause (USDC's and USDT's ``pause()``) every
transfer of that token reverts, so blame39's probe found the paused leg's maker refused
(``transferFrom(maker, <fresh address>, amount)`` and to itself both revert) while the
other leg's token moved: the honest maker of the paused token was blamed and its order
removed. A pause is not the maker's fault.

A refusal names a maker only if the token moves for another sender at the same state: a
``transfer`` of nothing from a second fresh address (to a fresh one, else to itself), or
of another funded maker of the failure selling that token. A pause refuses them all:
nobody is blamed (the pair is barred after its tries, both orders stay); a blacklist
(blame39) refuses only the maker: it is blamed as before (``PausableToken``,
contracts/test/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.book.types import Side
from sdex.chain.exchange import Token
from sdex.deployment import TokenInfo
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.settlement.refusal import refusals as _refusals
from tests.conftest import Chain
from tests.sandwich import listing, minted_token, node_on, pair_decided
from tests.test_blame44_refused_receiver import gate_token
from tests.test_node import ALICE, BOB, CAROL, E6, E18


def pausable_token(c: Chain) -> Token:
    """A ``PausableToken`` with 1000 of BOB's, approved to the Exchange."""
    return minted_token(c, "PausableToken", BOB)


async def test_a_paused_token_blames_nobody(chain: Chain, tmp_path: Path) -> None:
    """Alice's ask sells WETH for PAU; Bob's buy pays PAU, and PAU is paused in between:
    every settlement fails, nobody is certain (before: Bob blamed, his order removed); the
    pair is barred, both orders stay open."""
    c = chain
    pau = pausable_token(c)
    c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    ask = c.sign(c.order(ALICE, c.weth, E18 // 10, pau, 250 * E6))
    buy = c.sign(c.order(BOB, pau, 260 * E6, c.weth, E18 // 10))
    async with node_on(
        c, tmp_path, tokens=listing({"WETH": None, "PAU": TokenInfo(pau.address, 6)})
    ) as (node, api):
        assert (await api.post_order(ask))[0] == 201
        pau.send(c.sender(0), "pause")
        assert (await api.post_order(buy))[0] == 201
        await pair_decided(node, api, ask, buy)
        assert await api.status(buy) == "open"  # before: removed
        assert await api.status(ask) == "open"
        assert node.blamed_makers.score(c.address(BOB)) == 0.0
        assert node.blamed_makers.score(c.address(ALICE)) == 0.0
        assert node.barred_pairs.barred(ask.hash, buy.hash)


@pytest.mark.parametrize("paused", [False, True])
def test_the_refusal_probe_names_nobody_while_the_token_is_paused(
    chain: Chain, paused: bool
) -> None:
    c = chain
    pau = pausable_token(c)
    c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    if paused:
        pau.send(c.sender(0), "pause")
    ask = c.sign(c.order(ALICE, c.weth, E18 // 10, pau, 250 * E6))
    buy = c.sign(c.order(BOB, pau, 250 * E6, c.weth, E18 // 10))
    m = Match(ask, buy, MatchAmounts(E18 // 10, 250 * E6, 0, 0), Side.BID)
    at = hex(int(c.rpc.call("eth_blockNumber"), 16))
    raw = {s.hash: s for s in c.exchange.order_states([ask, buy], at)}
    assert _refusals(c.rpc, c.exchange.address, [m], at, raw, set(), {}, {}) == {}


def test_a_refused_maker_is_named_when_another_holder_of_its_token_moves(chain: Chain) -> None:
    """A permissioned token (RGT's allowlist: it credits only the allowed) that no longer
    allows Bob, who holds some and sells it: the control's transfer of nothing is refused
    too (it credits no fresh address), but Carol, allowed, who sells RGT in another match
    of the same failure, moves hers: the token moves for others, Bob's order is named."""
    c = chain
    rgt = gate_token(c)  # (ALICE's: the mint below gives Bob and Carol theirs)
    for who in (BOB, CAROL):
        rgt.send(c.sender(0), "mint", c.address(who), 1000 * E6)
        rgt.approve(c.sender(who), c.exchange.address, 2**256 - 1)
    for who in (ALICE, CAROL):  # (Alice is credited RGT by both matches)
        rgt.send(c.sender(0), "setAllowed", c.address(who), True)
    rgt.send(c.sender(0), "setAllowlist", True)
    c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    ask = c.sign(c.order(ALICE, c.weth, E18 // 10, rgt, 250 * E6))
    buy = c.sign(c.order(BOB, rgt, 250 * E6, c.weth, E18 // 10))
    other = c.sign(c.order(CAROL, rgt, 250 * E6, c.weth, E18 // 10))
    amounts = MatchAmounts(E18 // 10, 250 * E6, 0, 0)
    ms = [Match(ask, buy, amounts, Side.BID), Match(ask, other, amounts, Side.BID)]
    at = hex(int(c.rpc.call("eth_blockNumber"), 16))
    raw = {s.hash: s for s in c.exchange.order_states([ask, buy, other], at)}
    assert _refusals(c.rpc, c.exchange.address, ms, at, raw, set(), {}, {}) == {
        (ask.hash, buy.hash): buy.hash
    }
    # alone (no other holder known), the same refusal could be a pause: nobody named
    assert _refusals(c.rpc, c.exchange.address, ms[:1], at, raw, set(), {}, {}) == {}


@pytest.mark.parametrize("refuse_zero", [False, True])
def test_a_receiver_refused_only_by_its_payers_lock_is_not_named(
    chain: Chain, refuse_zero: bool
) -> None:
    """blame44's receiver probe named the order of the maker a leg's token refuses to credit;
    but a token may refuse a transfer for its sender's sake alone (a lock-up: SLT's locked
    Alice may move hers only to herself, which the sender probe's second ask passes). Before,
    honest Bob, who buys SLT, was named and his order removed, by a counterparty's own lock.
    Now a receiver is named only if the token refuses to credit it from another sender too
    (nothing of ``CONTROL``'s): nobody here; a refused receiver still is (blame44's tests).

    ``refuse_zero`` (review48): some tokens refuse any transfer of nothing (BNB's on
    Ethereum), so the control to Bob was refused too and named him; now the control counts
    only if a transfer of nothing moves at all (to a fresh address, else to the payer)."""
    c = chain
    slt = minted_token(c, "SenderLockToken", ALICE)
    slt.send(c.sender(0), "setLocked", c.address(ALICE), True)
    if refuse_zero:
        slt.send(c.sender(0), "setRefuseZero", True)
    c.weth.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    ask = c.sign(c.order(ALICE, slt, 250 * E6, c.weth, E18 // 10))
    buy = c.sign(c.order(BOB, c.weth, E18 // 10, slt, 250 * E6))
    m = Match(ask, buy, MatchAmounts(250 * E6, E18 // 10, 0, 0), Side.ASK)
    at = hex(int(c.rpc.call("eth_blockNumber"), 16))
    raw = {s.hash: s for s in c.exchange.order_states([ask, buy], at)}
    # before (refuse_zero): {(ask.hash, buy.hash): buy.hash}, honest Bob's order removed
    assert _refusals(c.rpc, c.exchange.address, [m], at, raw, set(), {}, {}) == {}
