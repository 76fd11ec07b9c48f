"""blame39: a listed token of the early kind whose ``Transfer`` indexes nothing (both
addresses in the data) moved a maker's balance unseen: the mirror re-read an account only
when an indexed topic named it, so the book kept a maker's sent-away balance as its funds
(an order shown fillable that every settlement then failed on), and a maker funded again
never had its order back. Now the address-shaped words of such a log's data (a bounded
number) are re-read too, when the node wants the account (``Watcher.wanted``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.exchange import Token, deploy
from sdex.deployment import TokenInfo
from sdex.mirror.own import MAX_DATA_WORDS, named_in_data
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.sandwich import listing, unfunded_and_back
from tests.test_node import ALICE, BOB, CAROL, E6, E18


async def test_an_unindexed_transfer_unfunds_and_refunds_an_order(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    uit = Token(c.rpc, deploy(c.sender(0), "UnindexedToken"))
    uit.mint(c.sender(BOB), c.address(BOB), E18)
    uit.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    ask = c.sign(c.order(BOB, uit, E18 // 10, c.usdc, 250 * E6))
    await unfunded_and_back(
        c,
        tmp_path,
        ask,
        listing({"UIT": TokenInfo(uit.address, 18), "USDC": None}),
        lambda: uit.transfer(c.sender(BOB), c.address(CAROL), E18),
        lambda: uit.transfer(c.sender(CAROL), c.address(BOB), E18),
    )


A, B = "0x" + "ab" * 20, "0x" + "0c" * 20
WORD_A, WORD_B = bytes(12) + bytes.fromhex(A[2:]), bytes(12) + bytes.fromhex(B[2:])


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"", set()),
        (
            WORD_A + WORD_B + (10**18).to_bytes(32, "big"),
            {A, B, "0x" + (10**18).to_bytes(20, "big").hex()},
        ),
        (bytes(32) + WORD_B, {B}),  # (the zero address: a mint's from)
        (b"\xff" * 32 + WORD_A, {A}),  # (an amount past 2**160 is no address)
        (WORD_A[:31], set()),  # (a short word)
        (bytes(32) * MAX_DATA_WORDS + WORD_A, set()),  # (past the bound: not read)
    ],
)
def test_addresses_in_a_log_s_data(data: bytes, named: set[str]) -> None:
    assert named_in_data(data, "0xt") == {(a, "0xt") for a in named}


async def test_an_own_settlement_of_an_unindexed_token_is_read_again(
    chain: Chain, tmp_path: Path
) -> None:
    """The node's own settlements are decoded from their receipts (``OwnNotes``), whose
    unindexed ``Transfer`` was skipped too: the maker's funds stayed as before the fill."""
    c = chain
    uit = Token(c.rpc, deploy(c.sender(0), "UnindexedToken"))
    uit.mint(c.sender(BOB), c.address(BOB), E18)
    uit.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    c.usdc.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    ask = c.sign(c.order(BOB, uit, E18 // 10, c.usdc, 250 * E6))
    bid = c.sign(c.order(ALICE, c.usdc, 250 * E6, uit, E18 // 10))
    cfg = node_config(c, tmp_path / "n.db")
    tokens = {"UIT": TokenInfo(uit.address, 18), "USDC": cfg.tokens["USDC"]}
    bob = (c.address(BOB).lower(), uit.address.lower())
    async with running_node(replace(cfg, tokens=tokens)) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_taken(ask))[0] == 201
        assert (await api.post_taken(bid))[0] == 201

        async def filled() -> bool:
            return await api.status(ask) == "filled"

        await wait_for(filled, timeout=30.0)
        left = E18 - E18 // 10
        await wait_for(lambda: node.mirror.spendable(bob) == left, timeout=20.0)  # before: E18
