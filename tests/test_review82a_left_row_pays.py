"""review82a: a start's row whose receipt answer is no receipt (``left``: no receipt read) is
taken by settle82's ``Reconcile._paid_below`` as one that may still land and pay the makers of
the rows above it, so a row above that reverts at the latest block is sent as it is. But an
answer for its receipt says it was mined already (its effect is in the latest block): the row
above reverts for good, mined and reverted, the operator paying (settle81 withheld it).

Real Hardhat (automining), a real ``sdex node`` on its SQLite store, behind a proxy that
answers the first row's receipt with one that does not read (status 7)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_up, wait_for
from tests.rowsatnonce import rows_bob_pays
from tests.rpcfault import _proxy
from tests.test_node import BOB, DAVE
from tests.test_node_restart import OPERATOR
from tests.test_settle81_unsettled_restart import status_of


async def test_a_row_above_a_mined_row_read_as_no_receipt_is_not_sent_to_revert(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    one, two = await rows_bob_pays(c, db)
    c.rpc.call("eth_sendRawTransaction", one.raw)  # (sent and mined before the kill)
    got = c.rpc.call("eth_getTransactionReceipt", one.tx_hash)
    assert got is not None and int(got["status"], 16) == 1, got
    c.weth.transfer(c.sender(BOB), c.address(DAVE), c.weth.balance_of(c.address(BOB)))
    assert c.weth.balance_of(c.address(BOB)) == 0  # (the second reverts for good now)

    def intercept(req: object) -> tuple[int, bytes] | None:
        if (
            isinstance(req, dict)
            and req.get("method") == "eth_getTransactionReceipt"
            and str((req.get("params") or [""])[0]).lower() == one.tx_hash.lower()
        ):
            bad = {"transactionHash": one.tx_hash, "status": "0x7", "blockNumber": "0x1"}
            body = {"jsonrpc": "2.0", "id": req.get("id"), "result": bad}
            return 200, json.dumps(body).encode()
        return None

    with _proxy(c.rpc.url, intercept) as url:
        async with node_up(c, db, url, OPERATOR):

            def judged() -> bool:
                return status_of(db, two.tx_hash) != "pending"

            await wait_for(judged, timeout=60)
            again = c.rpc.call("eth_getTransactionReceipt", two.tx_hash)
            assert again is None, f"sent again and mined: status {again['status']} (paid)"
            assert status_of(db, two.tx_hash) == "dropped"
