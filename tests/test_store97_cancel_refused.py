"""store97: a soft cancel by hash (``POST /v1/orders/{hash}/cancel``) of a closed order out of
memory while the store refused its row's read was answered 500 "internal error": the node
neither said what happened (nothing: the maker's signature could not be checked against the
order, nothing was applied or kept) nor that the same cancel may be sent again. Now a 503
naming the order and the refusal, saying nothing was cancelled and to send it again; once the
store reads, the same cancel is taken as for any closed order: its status stays ``filled`` (a
soft cancel binds the nodes, not the chain: nothing was left to cancel), the signed cancel
kept (``cancelledAtBlock``) and the answer says ``filled``.

(A ``filled`` or ``expired`` order its maker cancels on chain by its hash is ``cancelled``, as
the contract's ``getOrderInfo`` tells a cancel first, with its filled amount kept: reorg30's
rule, review96e's test for the refused read.)

Real Hardhat, a real node in this process on its SQLite store, the refusal a real SQLite
authorizer on its reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.refusedread import cancelled_on_chain, closed_forgotten, filled_forgotten
from tests.test_node import ALICE, E6, E18, ask
from tests.test_store95_follow_refused import refusing_reads


async def test_a_soft_cancel_of_a_filled_order_whose_read_is_refused_is_answered_503(
    chain: Chain, tmp_path: Path
) -> None:
    """ALICE's ask filled whole on chain by CAROL, closed ``filled``, evicted; while the
    reader refuses every read of the orders ALICE soft-cancels it by its hash: 503 naming the
    order and the refusal (before: 500 "internal error"), its record's read 503 too; the
    store reading, the same cancel is answered 200 ``filled``, kept, the record ``filled``
    with its fill."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        whole = await filled_forgotten(c, node, api)
        sig = {"signature": "0x" + sign_cancel(c.domain, whole.hash, c.keys[ALICE]).hex()}
        reader, refused = refusing_reads(node)
        try:
            code, body = await api.post(f"/v1/orders/{whole.hash_hex}/cancel", sig)
            got = await api.get(f"/v1/orders/{whole.hash_hex}")
        finally:
            reader.set_authorizer(None)
        assert refused, "the order's row was never read"
        assert code == 503, body  # (before: 500 "internal error")
        assert body["orderHash"] == whole.hash_hex and "status" not in body, body
        assert "refused" in body["reason"] and "send the same cancel again" in body["reason"]
        assert got[0] == 503 and "refused" in got[1]["reason"], got  # (before: 500)
        code, body = await api.post(f"/v1/orders/{whole.hash_hex}/cancel", sig)
        assert (code, body["status"]) == (200, "filled"), body
        code, rec = await api.get(f"/v1/orders/{whole.hash_hex}")
        meta = rec["metaData"]
        assert (meta["status"], meta["filledMakerAmount"]) == ("filled", str(E18)), meta
        assert "cancelledAtBlock" in meta, meta  # (the signed cancel kept)


@pytest.mark.parametrize("refuse", [False, True])
async def test_an_expired_order_cancelled_on_chain_while_refused_is_cancelled(
    chain: Chain, tmp_path: Path, refuse: bool
) -> None:
    """ALICE's ask closed ``expired`` by the chain's clock, evicted; ALICE cancels it on
    chain by its hash (the reader refusing every read of the orders, or not): the store
    reading, the order is ``cancelled`` both ways (the chain's word: a cancel first), as
    review96e's test has it for a ``filled`` one."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        now = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        short = c.sign(ask(c, ALICE, E18, 1000 * E6, expiry=now + 120))
        assert (await api.post_taken(short))[0] == 201
        c.rpc.call("evm_increaseTime", 300)
        c.rpc.call("evm_mine")

        await closed_forgotten(node, api, short, "expired")
        await cancelled_on_chain(c, node, api, short, refuse)
