"""review25: a batch answer whose ids are not what a JSON-RPC id can be (a list, an object:
unhashable) is an ``RpcError`` of each call, as an unanswered one; before, the async
client's ``batch`` raised ``TypeError`` from building its index of the answers (a defect to
the watcher's loop, a 500 wherever a batch served a request). A real loopback server."""

from __future__ import annotations

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.errors import RpcError
from tests.test_arpc import liar  # noqa: F401  (the fixture)

BODIES = {
    "a list id": b'[{"jsonrpc":"2.0","id":[1],"result":"0x1"}]',
    "an object id": b'[{"jsonrpc":"2.0","id":{"a":1},"result":"0x1"}]',
    "one good, one list id": (
        b'[{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":[2],"result":"0x2"}]'
    ),
}


@pytest.mark.parametrize("case", sorted(BODIES))
async def test_unhashable_ids_in_a_batch_answer_are_errors(
    liar: tuple[str, dict[str, bytes]],  # noqa: F811
    case: str,
) -> None:
    url, answer = liar
    answer["body"] = BODIES[case]
    rpc = AsyncRpc(url)
    try:
        out = await rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
    finally:
        await rpc.close()
    assert len(out) == 2
    assert isinstance(out[1], RpcError) and "unanswered" in str(out[1])
