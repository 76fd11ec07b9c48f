"""Balances and allowances of (owner, token) accounts, read in one JSON-RPC batch."""

from __future__ import annotations

from typing import Any

from sdex.chain import load_abi
from sdex.chain.arpc import AsyncRpc
from sdex.errors import ContractRevert, RpcError
from sdex.mirror import Account


async def read_funds(
    rpc: AsyncRpc,
    spender: str,
    accounts: list[Account],
    token_abi: Any = None,
    block: str = "latest",
) -> dict[Account, tuple[int, int]]:
    """(balanceOf, allowance to ``spender``) per (owner, token) at ``block``, in one
    JSON-RPC batch. A token call that reverts or answers nothing (no code there) counts
    as 0 (the owner cannot pay); any other error (a pruned node's "missing trie node", a
    refusal, a malformed answer) raises: a 0 would be stored as exact and park the owner's
    orders until another transfer touched the account."""
    abi = token_abi or load_abi("TestToken")
    bal, allow = abi.fn("balanceOf"), abi.fn("allowance")
    calls: list[tuple[str, list[Any]]] = []
    for owner, token in accounts:
        for data in (bal.encode(owner), allow.encode(owner, spender)):
            calls.append(("eth_call", [{"to": token, "data": "0x" + data.hex()}, block]))
    results = await rpc.batch(calls)
    out: dict[Account, tuple[int, int]] = {}
    for i, account in enumerate(accounts):
        values = [_value(raw) for raw in results[2 * i : 2 * i + 2]]
        out[account] = (values[0], values[1])
    return out


def _value(raw: Any) -> int:
    """A uint256 from an ``eth_call``'s answer in a batch; 0 for a revert or an empty one."""
    if isinstance(raw, ContractRevert):
        return 0
    if isinstance(raw, Exception):
        raise raw
    if not isinstance(raw, str) or not raw.startswith("0x"):
        raise RpcError(0, f"an eth_call answered {type(raw).__name__}, not hex data", None)
    if len(raw) < 66:
        if raw == "0x":  # no code at the token's address
            return 0
        raise RpcError(0, f"an eth_call answered {len(raw)} characters, not a uint256", None)
    try:
        return int(raw[2:66], 16)
    except ValueError:
        raise RpcError(0, "an eth_call answered data that is not hex", None) from None
