"""Balances and allowances of (owner, token) accounts, read in one JSON-RPC batch."""

from __future__ import annotations

from typing import Any

from sdex.chain import load_abi
from sdex.chain.arpc import AsyncRpc
from sdex.mirror import Account


async def read_funds(
    rpc: AsyncRpc,
    spender: str,
    accounts: list[Account],
    token_abi: Any = None,
    block: str = "latest",
) -> dict[Account, tuple[int, int]]:
    """(balanceOf, allowance to ``spender``) per (owner, token) at ``block``, in one
    JSON-RPC batch. A token call that fails counts as 0 (the owner cannot pay)."""
    abi = token_abi or load_abi("TestToken")
    bal, allow = abi.fn("balanceOf"), abi.fn("allowance")
    calls: list[tuple[str, list[Any]]] = []
    for owner, token in accounts:
        for data in (bal.encode(owner), allow.encode(owner, spender)):
            calls.append(("eth_call", [{"to": token, "data": "0x" + data.hex()}, block]))
    results = await rpc.batch(calls)
    out: dict[Account, tuple[int, int]] = {}
    for i, account in enumerate(accounts):
        values = []
        for raw in results[2 * i : 2 * i + 2]:
            try:
                values.append(int(raw[:66], 16) if isinstance(raw, str) and len(raw) >= 66 else 0)
            except ValueError:
                values.append(0)
        out[account] = (values[0], values[1])
    return out
