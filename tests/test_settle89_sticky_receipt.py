"""settle89 (left41, "Settlement"): a start's pooled row replaced by a transfer of nothing is
given up at once only when the transfer's receipt is told twice, ``LOST_RECHECK`` apart
(``unsettled._mined_at_once``; settle86), and the second read goes on a connection of its
own (``sdex.chain.apart``), as the watcher's proofs do (``Watcher._apart``).

Before, both reads went through the node's pooled client. A balancer that pins each
kept-alive connection to one backend (sticky sessions) answered both from the backend it had
placed them on: one that lies (or follows another chain) told the transfer mined twice, the
row was given up, its orders matched again at the next nonce, and the pooled row landed
after all, then the settlement matched again reverted (the operator paying).

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled (``pooled_and_killed``); the restart in this process behind a real loopback balancer
(aiohttp, keep-alive) whose connections open at the first ask for the transfer's receipt are
pinned to a backend that answers it with one (``another_chains_receipt``'s) at every ask;
connections opened since reach the chain. The swallowed transfer never reaches the chain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sdex.chain.rpc import quantity
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.replacedrow import pooled_row
from tests.test_reconcile77_too_high import mined_and_filled, pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle84_replaced_judged import settled_down
from tests.test_settle86_taken_twice import another_chains_receipt

__all__ = ["pooling"]

Said = dict[str, object] | None
RECEIPT = "eth_getTransactionReceipt"


@dataclass
class Sticky:
    """A balancer's state: each call's answer is ``answer(call, port)``'s (the client's port:
    one a connection), else the chain's."""

    url: str = ""
    answer: Callable[[object, int], Said] = lambda call, port: None
    ports: set[int] = field(default_factory=set)
    """Client ports of the connections served so far."""


@asynccontextmanager
async def sticky_balancer(upstream: str) -> AsyncIterator[Sticky]:
    """A ``Sticky`` in front of ``upstream`` on a loopback port, its connections kept alive
    (aiohttp's server): a batch's calls it answers answered, the others forwarded."""
    b = Sticky()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=2))

    async def post(request: web.Request) -> web.Response:
        msg: Any = json.loads(await request.read())
        peer = request.transport.get_extra_info("peername") if request.transport else None
        port = int(peer[1]) if peer else -1
        b.ports.add(port)
        calls = msg if isinstance(msg, list) else [msg]
        said = {id(c): a for c in calls if (a := b.answer(c, port)) is not None}
        rest = [c for c in calls if id(c) not in said]
        got: list[Any] = []
        if rest:
            body = rest if isinstance(msg, list) else rest[0]
            async with session.post(upstream, json=body) as r:
                answered = await r.json(content_type=None)
            got = answered if isinstance(answered, list) else [answered]
        by_id = {a.get("id"): a for a in got if isinstance(a, dict)}
        out = [said.get(id(c)) or by_id.get(c.get("id")) for c in calls]
        return web.json_response(out if isinstance(msg, list) else out[0])

    app = web.Application(client_max_size=1 << 22)
    app.router.add_post("/", post)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    b.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield b
    finally:
        await runner.cleanup()
        await session.close()


def pending_count(address: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a call asks ``address``'s pending count (``liar_at_first_ask``'s pick)."""
    return lambda call: (
        call.get("method") == "eth_getTransactionCount"
        and call.get("params") == [address, "pending"]
    )


def liar_at_first_ask(
    b: Sticky, asked: Callable[[dict[str, Any]], bool], result: object, lies: list[int]
) -> Callable[[object, int], Said]:
    """An answer for ``b``: the calls ``asked`` picks answered ``result`` on the connections
    open at the first such ask (the lying backend's, pinned then), each lie's port added to
    ``lies``; any other call, or on a connection opened since, the chain's."""
    pinned: set[int] = set()

    def answer(call: object, port: int) -> Said:
        if not isinstance(call, dict) or not asked(call):
            return None
        if not pinned:
            pinned.update(b.ports)  # (the connections open at the first ask: the liar's)
        if port not in pinned:
            return None
        lies.append(port)
        return {"jsonrpc": "2.0", "id": call.get("id"), "result": result}

    return answer


@asynccontextmanager
async def pooled_behind_sticky(
    c: Chain, tmp_path: Path, maker: SignedOrder, taker: SignedOrder
) -> AsyncIterator[tuple[Sticky, Node, Api, int]]:
    """A node behind a ``sticky_balancer`` (Hardhat mining only when told) that matched
    ``maker`` and ``taker``, their settlement pooled: the balancer, the node, its API and the
    operator's count before the settlement."""
    async with sticky_balancer(c.rpc.url) as b:
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=b.url)
        async with running_node(cfg) as (node, api):
            operator = node.sender.address
            assert (await api.post_order(maker))[0] == 201
            c.rpc.call("evm_setAutomine", False)
            count = nonce(c.rpc, operator)
            code, body = await api.post_order(taker)
            assert code == 201 and len(body["matches"]) == 1, body
            await wait_for(lambda: nonce(c.rpc, operator, "pending") > count, timeout=30)
            yield b, node, api, count


async def test_a_sticky_backends_receipt_twice_gives_no_pooled_row_up(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, got = await pooled_row(c, db)
    done, lying = another_chains_receipt(c, str(got["input"]).lower(), str(got["from"]))
    told: list[dict[str, object]] = []  # (the lying backend's receipt, as it first said it)
    pinned: set[int] = set()
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    async with sticky_balancer(c.rpc.url) as b:

        def answer(call: object, port: int) -> Said:
            if (
                told
                and isinstance(call, dict)
                and call.get("method") == "eth_getTransactionReceipt"
            ):
                ours = call.get("params") == [told[0]["result"]["transactionHash"]]  # type: ignore[index]
                return {**told[0], "id": call.get("id")} if ours and port in pinned else None
            said = lying(call)
            if said is not None and "receipt" in done and not told:
                told.append(said)  # (pinned: the connections open now, this one's too)
                pinned.update(b.ports)
            return said

        b.answer = answer
        async with running_node(replace(node_config(c, db), rpc=b.url)) as (node, api):
            assert done == ["call", "transfer", "receipt"], done  # (the lie told)
            pinned.clear()  # (the lying backend out of the balancer)
            s = node.settler
            # (before: the receipt told twice on a pinned connection: given up at the start,
            # its orders matched again, sent at the next nonce)
            assert s.withheld_cancels == 0, "the row given up on one backend's word"
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            await mined_and_filled(c, node, api, maker, count)  # (before: count + 2, a revert)
            assert quantity(c.rpc.call("eth_getTransactionReceipt", tx)["status"]) == 1
            await settled_down(c, node)
