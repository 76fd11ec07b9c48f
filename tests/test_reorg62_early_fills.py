"""reorg62: a settlement's fills written from its receipt after a chain reset's removal of
the old chain's fills (the receipt came late: the answer to its send held), for a block above
the new chain's head. A real chain (``evm_snapshot``/``evm_revert``), a real node through a
loopback proxy that holds the answer to the settlement's send, and its SQLite store."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy, faulty_proxy
from tests.test_mirror import head, revert, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg_false_fills import on_chain, stored

RECEIPT = "eth_getTransactionReceipt"


async def test_a_receipt_after_a_resets_removal_leaves_no_fill_of_the_old_chain(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    holding, got, release = [False], threading.Event(), threading.Event()
    carried: list[bool] = []  # (whether the held answer carries the settlement's receipt)

    def post(req: object) -> tuple[int, Any]:
        fwd = urllib.request.Request(
            c.rpc.url, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            return resp.status, json.loads(resp.read())

    def receipt(tx: str) -> Any:
        return post({"jsonrpc": "2.0", "id": 1, "method": RECEIPT, "params": [tx]})[1]["result"]

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        sends = [r for r in calls if isinstance(r, dict)]
        if not (holding[0] and any(r.get("method") == "eth_sendRawTransaction" for r in sends)):
            return None
        holding[0] = False
        status, answers = post(req)  # mined now, answered later
        asks = {r.get("id"): r["params"][0] for r in sends if r.get("method") == RECEIPT}
        deadline = time.monotonic() + 20
        for a in answers if isinstance(answers, list) else [answers]:
            while a.get("id") in asks and a.get("result") is None and time.monotonic() < deadline:
                time.sleep(0.05)  # (asked before it was mined: the answer a moment later)
                a["result"] = receipt(asks[a["id"]])
            carried.append(a.get("id") in asks and a.get("result") is not None)
        got.set()
        release.wait(60)
        return status, json.dumps(answers).encode()

    # (a sync send, anvil's, is refused as not served: it goes plainly, with its receipt
    # asked in its batch, as on Hardhat; a sync send's answer held past its 0.5 s
    # ``SYNC_TIMEOUT`` is dropped, its receipt polled from the new chain, which has none)
    with (
        faulty_proxy(c.rpc.url, "eth_sendRawTransactionSync", "-32601") as plain,
        _proxy(plain, intercept) as url,
    ):
        cfg = node_config(c, tmp_path / "n.db", rpc=url, new_heads=False, reorg_depth=2)
        async with running_node(cfg) as (node, api):
            await wait_for(lambda: node.watcher.caught_up.is_set())
            resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
            assert (await api.post_order(resting))[0] == 201
            first = c.sign(bid(c, BOB, E18, 3000 * E6))  # (a send first: the next is batched
            assert (await api.post_order(first, "ioc"))[0] == 201  # with its receipt ask)
            await wait_for(lambda: len(on_chain(c, [resting])) == 1, timeout=20)
            await synced(node, c)
            await wait_for(lambda: node.settler.idle.is_set(), timeout=20)
            kept = on_chain(c, [resting])
            snap = str(c.rpc.call("evm_snapshot"))
            below = head(c)[0]
            removed = asyncio.Event()
            reset_chain = node.store.reset_chain

            async def resetting(identity: Any) -> Any:
                gone = await reset_chain(identity)
                removed.set()  # the old chain's fills removed: now the receipt comes
                release.set()
                await wait_for(lambda: not node.mirror.expected, timeout=20)
                await wait_for(lambda: node.settler.idle.is_set(), timeout=20)
                return gone

            node.store.reset_chain = resetting  # type: ignore[method-assign]
            holding[0] = True
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            try:
                assert (await api.post_order(taker, "ioc"))[0] == 201
                await wait_for(got.is_set, timeout=20)  # mined in block below + 1
                assert any(carried)  # (its receipt comes with the held answer)
                c.rpc.call("hardhat_mine", hex(3))
                await synced(node, c)  # (the watcher read the settlement's block itself)
                revert(c, snap)  # nothing mined since: below every kept block, a reset
                await wait_for(removed.is_set, timeout=30)
            finally:
                release.set()
            await wait_for(lambda: node.watcher.resets == 1, timeout=30)
            await synced(node, c)
            assert head(c)[0] == below
            assert on_chain(c, [resting, taker]) == kept

            def as_the_chain() -> bool:
                return stored(node, [resting, taker]) == kept

            # before: the old chain's fill, stored for good (the chain stays below it)
            await wait_for(as_the_chain, timeout=10)
