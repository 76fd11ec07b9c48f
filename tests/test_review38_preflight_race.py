"""review38: an EOA's funds out for the operator's pre-flight and back before the node reads
why it failed, blamed on the honest contract wallet facing it.

A match with a contract maker is pre-flighted before it is sent. When the pre-flight
reverts, the evidence was read at "latest" with every account counted as exact: Bob (an
EOA) had moved his USDC out for the pre-flight and back before the reads, so the failure
looked like nobody's but the wallet's, and the honest wallet's ask was blamed (removed at
its second blame, its maker marked hostile). Now accounts named by a log of their token in
the last ``RECENT_BLOCKS`` blocks are not exact: nobody is blamed, the pair is barred after
``PAIR_TRIES`` (both orders stay).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from sdex.settlement.blame import PAIR_TRIES
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_attack30_gas_gated_wallet import OPERATOR, gas_gated_wallet
from tests.test_contract33_sandwich import Hook, wallet_ask
from tests.test_node import BOB, CAROL, E6, E18, bid
from tests.test_review32_untracked_contract_maker import ALWAYS


def preflight_sandwicher(c: Chain, maker: int, rounds: int) -> tuple[Hook, list[int]]:
    """A proxy hook: before each of the first ``rounds`` pre-flights of the operator (an
    ``eth_call`` from it to the Exchange), ``maker`` moves all its USDC to CAROL (mined); they
    come back at the next request after it."""
    lock = threading.Lock()
    done = [0]
    owed = [0]
    operator, exchange = c.address(OPERATOR).lower(), c.exchange.address.lower()

    def preflight(r: object) -> bool:
        if not isinstance(r, dict) or r.get("method") != "eth_call":
            return False
        params = r.get("params")
        if not isinstance(params, list) or len(params) != 2 or not isinstance(params[0], dict):
            return False
        call = params[0]
        return str(call.get("from")).lower() == operator and str(call.get("to")) == exchange

    def intercept(req: object) -> Answer | None:
        with lock:
            if owed[0]:  # (the pre-flight before this request ran: the funds come back)
                c.usdc.transfer(c.sender(CAROL), c.address(maker), owed[0])
                owed[0] = 0
            reqs = req if isinstance(req, list) else [req]
            if any(preflight(r) for r in reqs) and done[0] < rounds:
                done[0] += 1
                owed[0] = c.usdc.balance_of(c.address(maker))
                c.usdc.transfer(c.sender(maker), c.address(CAROL), owed[0])
        return None

    return intercept, done


async def test_funds_out_for_the_preflight_only_are_not_blamed_on_the_contract_maker(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    honest = wallet_ask(c, gas_gated_wallet(c, gate=ALWAYS), 250)
    intercept, done = preflight_sandwicher(c, BOB, 8)
    with _proxy(c.rpc.url, intercept) as rpc:
        cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            assert (await api.post_order(honest))[0] == 201
            buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
            assert (await api.post_order(buy))[0] == 201

            async def decided() -> bool:
                removed = "removed" in (await api.status(buy), await api.status(honest))
                return removed or node.barred_pairs.barred(honest.hash, buy.hash)

            await wait_for(decided, timeout=60.0)
            await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)
            meta = (await api.get(f"/v1/orders/{honest.hash_hex}"))[1]["metaData"]
            assert meta["status"] == "open", meta  # before: removed, its maker marked hostile
            assert not node.blamed_makers.hostile(honest.order.maker)
            assert done[0] >= PAIR_TRIES, done
