"""review74b: a wallet group's chain reads each answered as it ends (``Intake.submit_each``).

http69 took a loop turn's wallet orders through the intake together; the orders of a group
that need a chain read (a first-seen account, a contract maker's signature) were read
together and none was judged before all had ended. Any client's one slow read then held
every other client's order of that turn: a hostile contract wallet whose reads are slow
(its ``isValidSignature`` burns the gas a view allows, or an RPC slow to answer it)
delayed each honest first-seen maker's order posted in its turns by its own read's time,
where alone each order waits for its own read only."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from sdex.node.records import SubmitResult
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_resend68_replaced_chain import Calls, holding_proxy

X, Y = "127.0.0.2", "127.0.0.3"
"""A hostile wallet client and an honest one."""


async def test_a_held_read_in_a_group_holds_no_other_orders_answer(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    w = burner(c)  # (a contract maker: its order's signature is the chain's to judge)
    needle = w.lower().removeprefix("0x")

    def contract_read(calls: Calls) -> bool:
        return any(x.get("method") == "eth_call" and needle in json.dumps(x).lower() for x in calls)

    base = node_config(c, tmp_path / "n.db")
    async with holding_proxy(base.rpc, contract_read) as proxy:
        try:
            async with running_node(replace(base, rpc=proxy.url)) as (node, api):
                await wait_for(node.mirror_ready)
                known = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 999))
                assert (await api.post_order(known))[0] == 201  # (Alice's account known)
                hostile = contract_ask(c, w)
                honest = c.sign(ask(c, BOB, E18, 3100 * E6))  # (Bob's: a first-seen account)
                groups, reads = node.wallet_group.groups, node.intake.read
                futs: list[asyncio.Future[SubmitResult]] = [  # (tasks: one turn, wait74)
                    asyncio.ensure_future(node.submit_wallet(hostile.to_json(), client=X)),
                    asyncio.ensure_future(node.submit_wallet(honest.to_json(), client=Y)),
                ]
                await wait_for(lambda: proxy.held, 30)
                assert node.wallet_group.groups == groups + 1  # (one group: the same turn)
                # the honest order's own read ends; its answer does not wait for the other's
                await wait_for(lambda: futs[1].done(), 20)
                assert futs[1].result().status == 201, futs[1].result()
                assert futs[1].result().body["orderHash"] == honest.hash_hex
                assert node.intake.read - reads == 2
                assert not futs[0].done()  # (its read still held)
                proxy.release.set()
                answer = await asyncio.wait_for(futs[0], 30)
                assert answer.status == 400, answer  # (the chain's verdict: not its signature)
        finally:
            proxy.release.set()
