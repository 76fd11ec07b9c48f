"""review78: an endpoint that flaps between our chain and one with no Exchange holds matching.

gate77 held matching and signing while the chain's identity is in doubt, and while the
watcher says ``wrong-chain`` (no Exchange, another chain id); but the hold of a
``wrong-chain`` ended with the next poll that said anything else. Behind a balancer one of
whose backends is a devnet just restarted and not deployed to yet (or one lagging below the
deployment block: the same picture), the polls said ``wrong-chain`` and ``ok`` in turn, and
each ``ok`` let the node match its book and sign, against a chain that may be gone: a
settlement a send put on the fresh devnet is mined there, to an address with no code. Now a
``wrong-chain`` answer holds as a doubt does: ``AGREE`` polls in a row on our blocks (or a
reset proven) end it.

Real Hardhat (the suite's chain), a real node and SQLite store, a real JSON-RPC proxy on
loopback answering every other poll as that backend does: a head below the deployment
block, no block there, no code at the Exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import NoExchange, no_exchange_proxy
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


@asynccontextmanager
async def flapping_node(
    c: Chain, db: Path, failing: bool = False
) -> AsyncIterator[tuple[Node, Api, NoExchange]]:
    """A node behind ``no_exchange_proxy``, synced on our chain past its deployment block, and
    then the proxy armed (signer78 too)."""
    cfg = node_config(c, db, new_heads=False, reorg_depth=2)
    below = cfg.deploy_block - 1  # (the fresh backend's head: below the deployment)
    with no_exchange_proxy(c.rpc.url, c.deployment.exchange, below, failing) as (url, said):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            said.armed.set()
            yield node, api, said


async def _taken(api: Api, signed: SignedOrder) -> tuple[int, Any]:
    """``signed`` posted until the node judges it (not 503: the watcher says ``wrong-chain``
    at the polls of the other backend, and then reads nothing)."""
    answer: tuple[int, Any] = (0, None)

    async def judged() -> bool:
        nonlocal answer
        answer = await api.post_order(signed)
        return answer[0] != 503

    await wait_for(judged, timeout=30)
    return answer


@pytest.mark.parametrize("errors", [False, True], ids=["two-backends", "and-a-failing-one"])
async def test_wrong_chain_answers_in_turn_with_ours_hold_matching(
    chain: Chain, tmp_path: Path, errors: bool
) -> None:
    """``errors``: a third backend's failures between ours and the other's (a poll in four
    each: ours, failed, ours, wrong-chain): two of ours not in a row prove nothing either
    (they ended the hold: the polls on our blocks were counted apart)."""
    c = chain
    async with flapping_node(c, tmp_path / "n.db", errors) as (node, api, said):
        await wait_for(lambda: said.wrong >= 3, timeout=30)
        assert node.watcher.resets_begun == 0
        sent = node.settler.sent
        price = 2000 + int(c.rpc.call("eth_blockNumber"), 16) % 500  # (fresh hashes)
        sell = c.sign(ask(c, ALICE, E18, price * E6))
        buy = c.sign(bid(c, BOB, E18, price * E6))
        assert (await _taken(api, sell))[0] == 201
        assert (await _taken(api, buy))[0] == 201
        polls = said.polls
        await wait_for(lambda: said.polls >= polls + 8, timeout=30)  # (4 of ours)
        assert node.settler.sent == sent, (node.settler.sent, node.settler.settled)
        assert node.settler.queued() == []
        for h in (sell.hash, buy.hash):  # rested, nothing of them matched
            st = node.book.get(h)
            assert st is not None and st.resting and st.pending == 0, st
        assert node.mirror.doubt.held, node.watcher.status

        said.armed.clear()  # the other backend gone: two polls on our blocks, matched
        await wait_for(lambda: node.mirror.doubt.held == "", timeout=30)
        await wait_for(lambda: node.settler.settled >= 1, timeout=30)
        assert c.exchange.order_info(sell.order).filled == E18
        assert node.watcher.resets_begun == 0
