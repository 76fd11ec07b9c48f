"""settle74: the lane reads its nonce again (after a failed send, a nonce refusal, a reset)
from the chain behind the URL, and signs the next settlement at that count: only if that
chain still holds the node's view's block, asked in the same request.

Before, a chain replaced behind the URL and not yet seen by the watcher (its poll and its
judgement of the reset: 190-400 ms measured, ``bench/settle74_send_window.py``) gave the
lane its own count; the old chain's next match was signed at it and mined there (its
orders filled on a chain the node had not judged them on, the operator paying; 2 of 3
such sends landed in one of three runs of that bench). ``_same_chain`` compares the
watcher's view only, so it let them through. Real chains of the suite's engine (resend67's
pair: the same chain id and addresses, other block hashes) behind a loopback proxy that
switches from the old to the new one, the node's settler with the old chain's view."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from sdex.chain import Rpc
from sdex.chainnode import Engine
from sdex.settlement import Outcome
from tests.conftest import chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_reorg60_reset_inflight import nonce
from tests.test_resend67_replaced_chain import replacing
from tests.test_settlement_fallback import OPERATOR, pair, running_settler


async def test_a_nonce_read_from_a_replaced_chain_signs_nothing(
    tmp_path: Path, engine: Engine
) -> None:
    old, new, c_old, c_new = replacing(engine)
    switched: list[bool] = []

    def to_new(req: object) -> Answer | None:  # (forwarded to the old chain while None)
        if not switched:
            return None
        body = json.dumps(req).encode()
        fwd = urllib.request.Request(new.node.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            return resp.status, resp.read()

    try:
        with _proxy(old.node.url, to_new) as url:
            c = chain_of(Rpc(url), c_old.deployment)
            block = c_old.rpc.call("eth_getBlockByNumber", hex(c.deployment.deploy_block), False)
            view = (c.deployment.deploy_block, block["hash"], 0)
            operator = c.address(OPERATOR)
            async with running_settler(c, tmp_path) as (settler, results):
                settler.async_sends.view = lambda: view
                first = pair(c, 0)
                settler.submit([first])
                await wait_for(lambda: settler.idle.is_set() and len(results) == 1, 30)
                assert results[0].outcome is Outcome.SETTLED
                deployed = nonce(new.rpc, operator)
                settler.sender.forget_nonce()  # (as a failed send leaves it: read again)
                switched.append(True)  # the chain behind the URL replaced, unseen
                second = pair(c, 1)
                settler.submit([second])
                await wait_for(lambda: settler.idle.is_set() and len(results) == 2, 30)
            (r,) = results[1:]
            assert r.outcome is Outcome.FAILED and r.unsent and r.tx_hash is None, r
            assert nonce(new.rpc, operator) == deployed  # (before: the old match mined there)
            for so in (second.resting, second.incoming):
                assert c_new.exchange.order_info(so.order).filled == 0
    finally:
        old.stop()
        new.stop()
