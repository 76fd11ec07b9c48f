"""http97 (attack95's finding): a signed peer request seen before a restart is refused after it.

The replay guard (``sdex.gossip.replay``) is the process's memory: a request captured within
the freshness window (``MAX_SKEW_MS``, 30 s) before a node restarted was taken once more after
it, charged to its honest signer. Now a request signed before the node's start is refused
(401, "signed before this node started"). Live: a real ``sdex node`` process, killed and
started again on its database; the same bytes sent again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp

from sdex.gossip import NodeKey
from sdex.gossip.gate import SIGNED_BEFORE_START
from sdex.gossip.identity import MAX_SKEW_MS
from tests.conftest import Chain
from tests.nodeutil import node_up

PATH = "/p2p/orders"


async def test_a_request_seen_before_a_restart_is_refused_after_it(
    chain: Chain, tmp_path: Path
) -> None:
    db = tmp_path / "n.db"
    key = NodeKey.generate()
    body = json.dumps({"orders": []}).encode()
    async with aiohttp.ClientSession() as session:

        async def send(base: str, headers: dict[str, str]) -> tuple[int, str]:
            async with session.post(base + PATH, data=body, headers=headers) as r:
                return r.status, await r.text()

        async with node_up(chain, db) as (proc, api):
            node_id = NodeKey.load_or_create(db.with_name(db.name + ".nodekey")).node_id
            headers = key.request_headers("POST", PATH, body, "http://127.0.0.1:9", node_id)
            headers["Content-Type"] = "application/json"
            signed = time.time()
            first = await send(api.base, headers)
            assert first[0] != 401, first
            again = await send(api.base, headers)
            assert again[0] == 401 and "replay" in again[1], again  # (this run remembers it)
            proc.kill()
            proc.wait()
        async with node_up(chain, db) as (_proc, api):
            replayed = await send(api.base, headers)
            late = time.time() - signed
    assert late < MAX_SKEW_MS / 1000, f"the restart took {late:.1f} s: the window had passed"
    # before: answered as the first time (the new run's guard had never seen it)
    assert replayed[0] == 401 and SIGNED_BEFORE_START in replayed[1], replayed
