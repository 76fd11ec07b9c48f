"""sends31: the settlement's send client reads small answers only (review30: it read and
parsed up to 32 MB on the event loop a send). A real receipt of a settlement of 64 matches
fits its bound with room; a larger answer is read no further, never parsed, and its fate is
unknown, handled as a timeout is (the transaction is looked up; sync sends stay on)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from sdex.chain.arpc import SEND_MAX_RESPONSE, AnswerTooLarge, AsyncRpc
from sdex.chain.asend import AsyncSends
from sdex.errors import RpcTimeout
from sdex.settlement.gas import fitting_batch
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.sends31proxy import Pad, hostile_proxy, stored_broadcaster
from tests.test_node import CAROL, DAVE, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all

MARGIN = 4
"""The send client's bound holds this many of the largest receipt measured, and twice that
of the largest batch a backlog may send (``backlog_batch``, or as many matches as the gas
the receipts taught fits one transaction)."""


def _fee(c: Chain, taker_amount: int) -> dict[str, object]:
    return {"fee_recipient": c.address(19), "fee_amount": taker_amount * 30 // 10_000}


def _answer_bytes(url: str, method: str, *params: object) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return len(resp.read())


async def test_a_receipt_of_64_matches_fits_the_send_clients_bound_with_room(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    backlog = node_config(c, tmp_path / "n.db").backlog_batch
    fee = {"fee_bps": 30, "fee_recipient": c.address(19)}  # (6 logs a match, not 4)
    cfg = node_config(c, tmp_path / "n.db", max_batch=64, backlog_batch=64, **fee)
    async with running_node(cfg) as (node, api):
        assert node.send_rpc.max_response == SEND_MAX_RESPONSE and node.send_rpc.connections == 1
        settler = node.settler
        # one match first: its receipt teaches the gas a match takes (64 then fit one)
        await post_all(api, [c.sign(ask(c, CAROL, E18 // 100, 30 * E6, **_fee(c, 30 * E6)))])
        await post_all(api, [c.sign(bid(c, DAVE, E18 // 100, 30 * E6, **_fee(c, E18 // 100)))])
        await wait_for(lambda: settler.settled == 1 and settler.idle.is_set())
        asks = [ask(c, CAROL, E18 // 100, 30 * E6, **_fee(c, 30 * E6)) for _ in range(64)]
        await post_all(api, [c.sign(o) for o in asks])
        taker = bid(c, DAVE, 64 * E18 // 100, 64 * 30 * E6, **_fee(c, 64 * E18 // 100))
        code, body = await api.post_order(c.sign(taker))
        assert code == 201 and len(body["matches"]) == 64, body
        await wait_for(lambda: settler.settled == 65 and settler.idle.is_set(), timeout=60)
        assert settler.largest_batch == 64 and settler.failed == 0
        # the most matches a backlog batch may take by the gas this chain's receipts taught
        # (a slim one's: no room for the fallback)
        most = min(backlog, fitting_batch(settler.gas.slim_per_match() or 250_000))
    head = int(c.rpc.call("eth_blockNumber"), 16)
    sizes = []
    for n in range(head, head - 4, -1):
        block = c.rpc.call("eth_getBlockByNumber", hex(n), False)
        for tx in block["transactions"]:
            sizes.append(_answer_bytes(c.rpc.url, "eth_getTransactionReceipt", tx))
    largest = max(sizes)
    figures = {"receipt_of_64_matches_bytes": largest, "largest_batch": most}
    print(json.dumps(figures | {"bound": SEND_MAX_RESPONSE}))
    assert MARGIN * largest <= SEND_MAX_RESPONSE
    assert 2 * largest * most // 64 <= SEND_MAX_RESPONSE


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_answer_past_the_bound_is_not_read_and_its_fate_is_unknown(
    chain: Chain, chunked: bool
) -> None:
    c = chain
    signed = c.sender(1).sign(c.address(2), b"", 21_000)
    pad = Pad(4 * SEND_MAX_RESPONSE, chunked)
    rule = lambda m, _: pad if m == "eth_sendRawTransaction" else None  # noqa: E731
    async with hostile_proxy(c.rpc.url, rule) as proxy:
        rpc = AsyncRpc(proxy.url, max_response=SEND_MAX_RESPONSE)
        try:
            with pytest.raises(AnswerTooLarge) as raised:
                await AsyncSends(rpc, c.sender(1)).broadcast(signed)
            assert isinstance(raised.value, RpcTimeout)  # (fate unknown: as no answer)
            assert c.sender(1).next_nonce is None and rpc.too_large == 1
            # the client goes on (a new connection: the unread one was dropped)
            assert await rpc.call("eth_getTransactionReceipt", signed.tx_hash) is not None
        finally:
            await rpc.close()


async def test_a_sync_send_answered_past_the_bound_is_handled_as_a_timeout(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with stored_broadcaster(c, tmp_path) as b:
        b.sync = True
        pad = Pad(2 * SEND_MAX_RESPONSE)
        rule = lambda m, _: pad if m == "eth_sendRawTransactionSync" else None  # noqa: E731
        async with hostile_proxy(c.rpc.url, rule) as proxy:
            rpc = AsyncRpc(proxy.url, max_response=SEND_MAX_RESPONSE)
            try:
                signed = c.sender(1).sign(c.address(2), b"", 21_000)
                b.queued(signed)
                assert await b.send_async(AsyncSends(rpc, b.sender), signed) is None
            finally:
                await rpc.close()
        # sent (the proxy forwarded it), looked up, its receipt polled: neither parsed nor
        # taken for "not served" (sync sends stay on)
        assert b.sync is True and b.sync_timeouts == 1
        assert proxy.seen["eth_getTransactionByHash"] == 1
        assert proxy.seen["eth_sendRawTransaction"] == 0
        assert c.rpc.call("eth_getTransactionReceipt", signed.tx_hash) is not None
