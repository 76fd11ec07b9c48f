"""blame44: a token that refuses to credit a maker (a permissioned token's allowlist, not a
blacklist of senders) failed every settlement of the order that buys it, and nobody was
blamed: each leg's maker moves its own funds (blame39's probe sends them to a fresh address),
funds and signatures read fine. The pair was barred after three failures and the order
stayed, each new honest counterparty one reverted transaction and more pre-flights.

The order at fault is the one whose receiving side is refused: its maker asked for a token
that will not credit it. Once neither leg's sender is refused, each leg's
``transferFrom(maker, <the other maker>, amount)`` is probed from the Exchange at the state
the settlement met: the leg refused while its sender moves to a fresh address names the
order of the maker it pays (``ReceiverGateToken``, contracts/test/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.book.types import Side
from sdex.chain.exchange import Token
from sdex.deployment import TokenInfo
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement.blame import account
from sdex.settlement.refusal import refusals as _refusals
from tests.conftest import Chain
from tests.nodeutil import Api
from tests.sandwich import listing, minted_token, node_on, pair_decided
from tests.test_node import ALICE, BOB, E6, E18


def gate_token(c: Chain) -> Token:
    """A ``ReceiverGateToken`` with 1000 of ALICE's, approved to the Exchange."""
    return minted_token(c, "ReceiverGateToken", ALICE)


def refuse(c: Chain, rgt: Token, who: int) -> None:
    """``rgt`` refuses to credit ``who`` from now on."""
    rgt.send(c.sender(0), "setRefused", c.address(who), True)


async def test_the_order_a_token_refuses_to_credit_is_blamed(chain: Chain, tmp_path: Path) -> None:
    """Alice's bid pays in RGT for WETH; Bob's ask sells WETH for RGT, and RGT refuses to
    credit Bob: his ask is removed (before: open for ever, the pair barred), Alice's bid
    stays open and Alice is not blamed."""
    c = chain
    rgt = gate_token(c)
    c.weth.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    bid = c.sign(c.order(ALICE, rgt, 260 * E6, c.weth, E18 // 10))
    ask = c.sign(c.order(BOB, c.weth, E18 // 10, rgt, 250 * E6))
    async with node_on(
        c, tmp_path, tokens=listing({"WETH": None, "RGT": TokenInfo(rgt.address, 6)})
    ) as (node, api):
        assert (await api.post_taken(bid))[0] == 201
        refuse(c, rgt, BOB)
        assert (await api.post_taken(ask))[0] == 201
        await ask_blamed(c, node, api, bid, ask)


async def ask_blamed(c: Chain, node: Node, api: Api, bid: SignedOrder, ask: SignedOrder) -> None:
    """Once the pair is decided: Bob's ask removed, Alice's bid open, Bob blamed, Alice not,
    the pair not barred."""
    await pair_decided(node, api, bid, ask)
    assert await api.status(ask) == "removed"
    assert await api.status(bid) == "open"
    assert node.blamed_makers.score(c.address(BOB)) >= 1.0
    assert node.blamed_makers.score(c.address(ALICE)) == 0.0
    assert not node.barred_pairs.barred(bid.hash, ask.hash)


@pytest.mark.parametrize(
    ("refused", "named"),
    [
        (None, None),  # (both legs move: nobody)
        (BOB, "ask"),  # (RGT refuses to credit Bob: his ask, which buys it)
        (ALICE, None),  # (RGT refuses Alice as a receiver: she only sends it here)
        # (a permissioned RGT, Alice allowed, Bob not: it refuses the fresh address the
        # sender probe pays too, and Alice, who sends it, was named before)
        ("allowlist", "ask"),
    ],
)
def test_the_receiver_probe_names_the_order_whose_receiving_side_is_refused(
    chain: Chain, refused: int | str | None, named: str | None
) -> None:
    c = chain
    rgt = gate_token(c)
    c.weth.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    if refused == "allowlist":
        rgt.send(c.sender(0), "setAllowed", c.address(ALICE), True)
        rgt.send(c.sender(0), "setAllowlist", True)
    elif isinstance(refused, int):
        refuse(c, rgt, refused)
    bid = c.sign(c.order(ALICE, rgt, 250 * E6, c.weth, E18 // 10))
    ask = c.sign(c.order(BOB, c.weth, E18 // 10, rgt, 250 * E6))
    m = Match(bid, ask, MatchAmounts(250 * E6, E18 // 10, 0, 0), Side.ASK)
    at = hex(int(c.rpc.call("eth_blockNumber"), 16))
    raw = {s.hash: s for s in c.exchange.order_states([bid, ask], at)}
    got = _refusals(c.rpc, c.exchange.address, [m], at, raw, set(), {}, {})
    assert got == ({} if named is None else {(bid.hash, ask.hash): ask.hash})
    # a doubtful account (moved before the settlement in its block) is never named
    assert _refusals(c.rpc, c.exchange.address, [m], at, raw, {account(ask)}, {}, {}) == {}
