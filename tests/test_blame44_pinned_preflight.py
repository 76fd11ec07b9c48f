"""blame44: a pre-flight that failed was judged on state read at "latest", an account exact
unless a log of its token named it in the last ``RECENT_BLOCKS`` (16) blocks (review38).

Bob (an EOA) moves his USDC out just before the operator's pre-flight of his buy against an
honest contract wallet's ask, and back just after, then 16 blocks are mined before the node
reads why it failed: the window no longer held his moves, his funds read as there (exact),
the match settled with the wallet stubbed valid, and the wallet was blamed. Now the settler
pins the block its pre-flight runs at (``SettledMatch.block``) and the evidence is read at
that block: Bob's funds were short there, by his own transfer, and his buy is blamed; the
wallet is not.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.rpcfault import Answer, _forward
from tests.sandwich import Hook, node_on
from tests.test_attack30_gas_gated_wallet import OPERATOR, gas_gated_wallet
from tests.test_contract33_sandwich import wallet_ask
from tests.test_node import BOB, CAROL, E6, E18, bid
from tests.test_review32_untracked_contract_maker import ALWAYS

STRADDLE = 16
"""Blocks mined after Bob's funds come back (the old window: ``RECENT_BLOCKS``)."""


def straddler(c: Chain) -> tuple[Hook, threading.Event, list[str]]:
    """A proxy hook, armed by its event: at the first request after arming that reads the
    block number or is the operator's pre-flight (an ``eth_call`` from it to the Exchange),
    BOB's USDC goes to CAROL (mined), the hook forwards the request itself, and once the
    chain has answered it the USDC comes back and ``STRADDLE`` blocks are mined. Once.
    Returns the hook, its arming, and the methods it saw from arming on.

    flake78: the USDC came back at the next request the proxy took, on its own thread: a
    watcher's head poll that reached the hook between the trigger's turn there and the
    trigger's reaching the chain gave it back first, the pre-flight was pinned above it and
    passed, and Bob was never blamed (with the trigger held 1 s there: 3 of 3)."""
    operator, exchange = c.address(OPERATOR).lower(), c.exchange.address.lower()
    lock = threading.Lock()
    armed = threading.Event()
    seen: list[str] = []
    done = [False]

    def trigger(r: object) -> bool:
        if not isinstance(r, dict):
            return False
        if r.get("method") == "eth_blockNumber":
            return True
        params = r.get("params")
        if r.get("method") != "eth_call" or not isinstance(params, list) or not params:
            return False
        call = params[0]
        return isinstance(call, dict) and (
            str(call.get("from")).lower() == operator and str(call.get("to")).lower() == exchange
        )

    def intercept(req: object) -> Answer | None:
        reqs = req if isinstance(req, list) else [req]
        with lock:
            if not armed.is_set():
                return None
            seen.extend(str(r.get("method")) for r in reqs if isinstance(r, dict))
            if done[0] or not any(trigger(r) for r in reqs):
                return None
            done[0] = True
            owed = c.usdc.balance_of(c.address(BOB))
            c.usdc.transfer(c.sender(BOB), c.address(CAROL), owed)
            try:  # (under the lock: no request meanwhile sees the USDC back)
                return _forward(c.rpc.url, req)
            finally:
                c.usdc.transfer(c.sender(CAROL), c.address(BOB), owed)
                c.rpc.call("hardhat_mine", hex(STRADDLE))

    return intercept, armed, seen


async def test_funds_out_before_the_preflight_and_back_long_before_the_reads(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    wallet = gas_gated_wallet(c, gate=ALWAYS)  # (honest: valid at any gas)
    honest = wallet_ask(c, wallet, 250)
    intercept, armed, seen = straddler(c)
    async with node_on(c, tmp_path, intercept) as (node, api):
        assert (await api.post_order(honest))[0] == 201
        buy = c.sign(bid(c, BOB, E18 // 10, 260 * E6))
        armed.set()
        assert (await api.post_order(buy))[0] == 201

        def judged() -> bool:
            recs = (node.records.get(honest.hash), node.records.get(buy.hash))
            return any(r is not None and (r.failures > 0 or r.status != "open") for r in recs)

        await wait_for(judged, timeout=30.0)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)
        assert node.blamed_makers.score(wallet) == 0.0, seen  # before: 1.0, blamed
        assert node.blamed_makers.score(c.address(BOB)) > 0.9, seen  # (1.0, decaying)
