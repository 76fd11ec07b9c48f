"""Left50 (events49's leftover): a settlement never sent (its pre-flight not answered: the
node's trouble) gives its matches back at once, but ``_on_settled`` released them only under
``_results_lock``, which another settlement's diagnosis holds across its chain read: the
wallet's resting ask said ``open`` again (its event, its row) only once that read came back,
however long the chain took. Here the diagnosis read is held by a real loopback proxy; the
given-back ask's ``open`` event must come while it is held."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from sdex.order import sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_attack30_gas_gated_wallet import OPERATOR, OWNER, gas_gated_wallet
from tests.test_events49_match_published import EVENT_WAIT, order_event
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_review32_untracked_contract_maker import ALWAYS, operator_preflight

HOLD = 60.0
"""Seconds at most the diagnosis read is held (released by the test once it has looked)."""


def _error(req: Any, message: str) -> Answer:
    error = {"code": -32000, "message": message}
    return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}).encode()


def _data(req: object) -> str:
    if not isinstance(req, dict) or req.get("method") != "eth_call":
        return ""
    call = (req.get("params") or [{}])[0]
    return str(call.get("data", "")).lower() if isinstance(call, dict) else ""


async def test_a_match_never_sent_is_given_back_while_another_diagnosis_reads_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    first_wallet, second_wallet = gas_gated_wallet(c, gate=ALWAYS), gas_gated_wallet(c, gate=ALWAYS)
    first = sign_order(  # a contract maker's: pre-flighted alone
        replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=first_wallet), c.domain, c.keys[OWNER]
    )
    second = sign_order(
        replace(ask(c, ALICE, E18 // 10, 300 * E6), maker=second_wallet),
        c.domain,
        c.keys[OWNER],
    )
    states = c.exchange.encode_order_states([first])[:4].hex()
    lock = threading.Lock()
    seen = {"first": 0, "second": 0}
    holding, release = threading.Event(), threading.Event()

    def intercept(req: object) -> Answer | None:
        data = _data(req)
        if operator_preflight(c, req):
            with lock:
                for name, w in (("first", first_wallet), ("second", second_wallet)):
                    if w[2:].lower() in data:
                        seen[name] += 1
                        if seen[name] == 1:  # the first's: out of gas (diagnosed); the
                            # second's: the chain's trouble (never sent, given back)
                            return _error(req, "out of gas" if name == "first" else "timeout")
            return None
        if (
            data.startswith("0x" + states)
            and first_wallet[2:].lower() in data
            and seen["first"]
            and not holding.is_set()
        ):
            holding.set()  # the diagnosis's read of the first match's orders: held
            release.wait(HOLD)
        return None

    with _proxy(c.rpc.url, intercept) as rpc:
        cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            ws = await api.session.ws_connect(api.base + "/v1/ws")
            try:
                assert (await ws.receive_json(timeout=10))["type"] == "hello"
                assert (await api.post_order(first))[0] == 201
                buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
                assert (await api.post_order(buy, "ioc"))[0] == 201
                await wait_for(holding.is_set, timeout=30)
                assert (await api.post_order(second))[0] == 201
                assert (await order_event(ws, second.hash_hex, EVENT_WAIT))["event"] == "added"
                buy2 = c.sign(bid(c, CAROL, E18 // 10, 310 * E6))
                assert (await api.post_order(buy2, "ioc"))[0] == 201
                await wait_for(lambda: seen["second"] >= 1, timeout=30)
                events = []
                while (ev := await order_event(ws, second.hash_hex, EVENT_WAIT)) is not None:
                    events.append(ev["event"])
                    if ev["event"] == "open":
                        break
                print("the second ask's events while the diagnosis read is held:", events)
                assert not release.is_set()
                assert events[-1:] == ["open"], events
                assert await api.status(second) == "open"
            finally:
                release.set()
                await ws.close()
