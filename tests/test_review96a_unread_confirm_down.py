"""review96a (settle96's ``rowreceipt.believed`` in ``mark_unread``): a row a start gave up
unread in a doubt, marked once the chain is proven ours, whose receipt's confirming read (on
a connection of its own) keeps failing: asked again a second apart (no hot loop), its warning
said once, then at debug, as the live wait says one (``confirm.not_confirmed``). Before, each
second's try logged a warning, for as long as the confirming read failed: a log without
bound. Marked as its receipt says once the confirming read answers.

Real Hardhat, the node's settler with its SQLite store, its receipts client behind a real
loopback proxy that answers every ``eth_getBlockByHash`` (the confirming read) with an error
while the test says so."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.settlement.unread import mark_unread
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_settlement_fallback import running_settler

NOT_BELIEVED = "not given again on a connection of its own"


async def test_an_unread_rows_confirmation_failing_is_said_once(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    tx = c.rpc.call("eth_sendTransaction", {"from": c.address(1), "to": c.address(1)})
    down = threading.Event()
    down.set()
    asked = [0]

    def intercept(req: object) -> Answer | None:
        if not down.is_set() or not isinstance(req, dict):
            return None
        if req.get("method") != "eth_getBlockByHash":
            return None
        asked[0] += 1
        error = {"code": -32000, "message": "upstream unavailable"}
        return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "error": error}).encode()

    caplog.set_level(logging.DEBUG, logger="sdex.settlement")
    with _proxy(c.rpc.url, intercept) as url:
        async with running_settler(c, tmp_path) as (s, _):
            real, s.receipts = s.receipts, AsyncRpc(url)
            try:
                marking = asyncio.create_task(mark_unread(s, [tx], lambda: None, lambda: 0))
                await wait_for(lambda: asked[0] >= 5, timeout=60)
                assert not marking.done()
                said = [r for r in caplog.records if NOT_BELIEVED in r.getMessage()]
                warned = [r for r in said if r.levelno >= logging.WARNING]
                assert len(said) >= 4 and len(warned) == 1, (len(said), len(warned))
                down.clear()
                async with asyncio.timeout(30):
                    await marking
            finally:
                await s.receipts.close()
                s.receipts = real
