"""nonce75: flapped answers for the saved head's block in a restart's first poll.

After a restart the mirror keeps no block, only the saved head (``check_head`` proved it
the chain's with a read at the start). A reorg signalled in the first poll (one answer of
another hash for that block in the range read's batch) had ``fork_point`` ask for the head's
block once more, and one answer of another hash there proved it gone: the store was reset,
the chain unchanged (every fill dropped and read again, the pending settlements given up,
every order judged again). The head is gone only when a second read of its own repeats that
hash, as ``check_head`` and ``_redeployed`` ask (review74a). Real Hardhat, a real node and
SQLite store, a real proxy on loopback lying for two answers (``tests/rpcfault.py``)."""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review73_reset_start import _settle, _statuses
from tests.test_review74a_flapped_head import _saved_head

WRONG = "0x" + "ef" * 32


async def test_two_flapped_answers_for_the_saved_head_in_the_first_poll_reset_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    await _settle(cfg, maker, taker)
    head = _saved_head(cfg.db)
    c.rpc.call("hardhat_mine", hex(3))  # (the first poll has blocks to read past the head)
    asked, told = [0], [0]
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        ours = [
            x.get("id")
            for x in calls
            if isinstance(x, dict)
            and x.get("method") == "eth_getBlockByNumber"
            and (x.get("params") or [None])[0] == hex(head)
        ]
        if not ours:
            return None
        with lock:
            asked[0] += 1
            lie = asked[0] in (2, 3)  # (the start's check first, said as it is)
            told[0] += lie
        if not lie:
            return None
        body = json.dumps(req).encode()
        fwd = urllib.request.Request(c.rpc.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answer = resp.status, json.loads(resp.read())
        for a in answer if isinstance(answer, list) else [answer]:
            if isinstance(a, dict) and a.get("id") in ours and isinstance(a.get("result"), dict):
                a["result"]["hash"] = WRONG
        return status, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            latest = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: node.watcher.block >= latest, timeout=30)
            assert told == [2]  # (both wrong answers given: the reorg's signal, and one more)
            assert node.watcher.resets == 0 and node.watcher.resets_begun == 0
            assert _statuses(cfg.db) == ["mined"]
            assert not node.store.rejudge_due
            assert await api.status(maker) == "filled"
