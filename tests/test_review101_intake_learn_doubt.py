"""review101: an order's intake read (``Intake._read``, ``getOrderStates`` at "latest")
taught the mirror its maker's funds (``Mirror.learn``) with no look at a doubt of the
chain's identity, where doubt100 kept the recheck read's (``_states_of``) from it: in a
doubt, "latest" may be another chain's, and its figure stood in the mirror (Alice's WETH
as the other chain has it) till a block touched her. Now a read in a doubt, held as it
began or said during it, teaches the mirror nothing.

Real Hardhat, a real node on a real proxy on loopback (left63's ``rows_proxy``) whose
``getOrderStates`` answers give every maker 10**30 (the other chain's word)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.mirror import doubt as doubt_module
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_left63_short_rows import encoded, rows, rows_proxy
from tests.test_node import ALICE, E6, E18, ask

RICH = 10**30
"""The other chain's balance and allowance in every row."""


def other_chain(raw: str) -> str | None:
    out = rows(raw)
    for r in out:
        r[128:160] = RICH.to_bytes(32, "big")
        r[160:192] = RICH.to_bytes(32, "big")
    return encoded(out)


async def test_an_intake_read_in_a_doubt_teaches_the_mirror_nothing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A doubt held, Alice's ask comes (it rests: matching held); its read answered with
    the other chain's 10**30. Before: the mirror learned 10**30 (failed); now nothing."""
    monkeypatch.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
    sell = chain.sign(ask(chain, ALICE, E18 // 10, 250 * E6), ALICE)
    account = (sell.order.maker, sell.order.maker_token)
    with rows_proxy(chain, other_chain) as (rpc, lies):
        cfg = replace(node_config(chain, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready, timeout=30)
            node.mirror.doubt.said("review101: another chain's answer")
            assert node.mirror.doubt.held
            lies["armed"] = True
            assert (await api.post_order(sell))[0] == 201
            assert lies["lied"] >= 1
            assert node.mirror.doubt.held
            assert node.mirror.funds.get(account, (0, 0))[0] != RICH  # (before: learned)
