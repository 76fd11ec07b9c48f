"""review77a: one lying answer of the lane's pending count (a backend that flapped) has no
more than ``MAX_GAP_FILL`` transfers of nothing sent and paid for.

The lane reads its nonce from the chain's pending count (``NonceLane._count``). An endpoint
that answers it ``LIE`` too high once has the lane sign its next settlement there; a chain
that queues it (anvil, geth) holds it pooled past its count, and gap76's fill
(``NonceLane._fill_gap``) then filled every nonce below it with a transfer of nothing, read
from the honest count: ``LIE`` transfers the operator pays for, however large the lie (300:
300 sent, the lane's sends held meanwhile). Left: the lied settlement stays pooled there, a
chain that queues it mines it once the lane's count comes to it. count77: a count past what
the lane signed is read again and believed only if the same twice, so the proxy lies the
same twice here (``tests/test_count77_lied_count.py``: once). Real anvil behind a loopback
proxy that lies twice, a real node."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)

LIE = 1_000


async def test_a_lied_pending_count_pays_no_transfers_of_nothing(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = anvil_chain
    upstream = c.deployment.rpc
    armed, lied = [False], [0]

    def intercept(req: object) -> Answer | None:
        if not armed[0] or lied[0] >= 2 or not isinstance(req, list) or len(req) != 2:
            return None
        first, second = req
        if first.get("method") != "eth_getTransactionCount" or first["params"][1] != "pending":
            return None
        if second.get("method") != "eth_getBlockByNumber":
            return None
        fwd = urllib.request.Request(
            upstream, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answers = resp.status, json.loads(resp.read())
        for a in answers:
            if a["id"] == first["id"]:
                a["result"] = hex(int(a["result"], 16) + LIE)
        lied[0] += 1
        return status, json.dumps(answers).encode()

    with _proxy(upstream, intercept) as url:
        cfg = node_config(c, tmp_path / "n.db", new_heads=False, rpc=url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            await synced(node, c)
            operator = s.sender.address
            count = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            s.sender.forget_nonce()
            armed[0] = True
            caplog.set_level(logging.WARNING, "sdex.settlement")
            assert (await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            code, body = await api.post_order(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            await wait_for(lambda: lied[0] == 2, timeout=10)  # (count77: believed twice)

            def judged() -> bool:
                return any("free nonces: not filled" in r.getMessage() for r in caplog.records)

            await wait_for(judged, timeout=40)  # (before: 1,000 transfers, then it landed)
            mined = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            assert s.gap_fills == 0 and mined == count
