"""doubt102 (review101's first hole): the mirror's read of orders it cannot judge
(``NodeVerdicts._states_of``: a block's apply, a reorg, a reset, the rechecks) taught the
mirror their makers' funds from a read at "latest" begun while a doubt of the chain's
identity was already held (doubt100 looked only for one said during the read): "latest"
may be another chain's, its figure stood in the mirror till a block touched the account.
Now a read begun in a doubt teaches the mirror nothing (as review101 made intake's).

Real Hardhat, a real node on a real proxy on loopback (left63's ``rows_proxy``) whose
``getOrderStates`` answers give every maker 10**30 (review101's ``other_chain``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.mirror import doubt as doubt_module
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_left63_short_rows import rows_proxy
from tests.test_node import ALICE, E6, E18, ask
from tests.test_review98b_readback_idle import drain_runs
from tests.test_review101_intake_learn_doubt import RICH, other_chain

BOUND = 60.0


async def test_a_states_read_begun_in_a_doubt_teaches_the_mirror_nothing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A doubt held, the node reads Alice's ask (her funds unknown to the mirror) as a
    block's apply does; the read answered with the other chain's 10**30. Before: the mirror
    learned 10**30 (failed); now nothing, though the read's answer is given back."""
    monkeypatch.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
    sell = chain.sign(ask(chain, ALICE, E18 // 10, 250 * E6), ALICE)
    account = (sell.order.maker, sell.order.maker_token)
    with rows_proxy(chain, other_chain) as (rpc, lies):
        cfg = replace(node_config(chain, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (node, _):
            await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
            await wait_for(node.mirror_ready, BOUND)
            assert node.mirror.state(sell) is None  # (her funds not known: a chain read)
            node.mirror.doubt.said("doubt102: another chain's answer")
            assert node.mirror.doubt.held
            lies["armed"] = True
            states = await node._states_of([sell])
            assert lies["lied"] >= 1 and states[sell.hash].maker_balance == RICH
            assert node.mirror.doubt.held
            assert node.mirror.funds.get(account, (0, 0))[0] != RICH  # (before: learned)
            assert node.mirror.state(sell) is None
