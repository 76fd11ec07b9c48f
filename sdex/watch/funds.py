"""Balances and allowances of (owner, token) accounts, read in JSON-RPC batches."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sdex.chain import load_abi
from sdex.chain.arpc import AsyncRpc
from sdex.errors import ChainError, ContractRevert, RpcError
from sdex.mirror import Account, Header, Mirror

log = logging.getLogger("sdex.watch")

BATCH_CALLS = 200
"""Calls per JSON-RPC batch (two an account): well under the 1,000 a batch geth allows by
default, so a long catch-up's many accounts are not refused as one too-large batch."""

FUNDS_TRIES = 5
"""Polls an account's funds may fail to be read (the node answered that call with an
error that is not the token's code failing) before they count as 0."""

EXECUTION_CODES = frozenset({3, -32015})
"""JSON-RPC error codes of a call the EVM ran and failed (geth's 3, Nethermind's -32015)."""

EXECUTION_WORDS = ("revert", "invalid opcode", "out of gas", "execution error")
"""Words of an error message for the same: the token's code failed, as a transfer would."""


@dataclass
class FundsRead:
    """What a read of many accounts found: ``funds`` per account read, and ``failed``
    (account -> why) for those whose calls failed for another reason than the token's code
    (a state the node does not have, a call left unanswered): not known, not 0."""

    funds: dict[Account, tuple[int, int]] = field(default_factory=dict)
    failed: dict[Account, str] = field(default_factory=dict)


async def read_funds(
    rpc: AsyncRpc,
    spender: str,
    accounts: list[Account],
    token_abi: Any = None,
    block: str = "latest",
) -> FundsRead:
    """(balanceOf, allowance to ``spender``) per (owner, token) at ``block``, in batches of
    ``BATCH_CALLS``. A token call that the EVM ran and failed (a revert, an invalid opcode,
    out of gas) counts as 0: the owner cannot pay, a transfer would fail the same way. An
    empty answer (``0x``) is 0 only where the token has no code at ``block`` (its
    ``eth_getCode``, read then): from a token with code it is the node's failure (Hardhat
    answers ``0x`` for a state it does not have), not a balance. Any other error of one call
    (a pruned node's "missing trie node", a call left unanswered, a malformed answer) puts
    that account in ``failed``, not 0 (a 0 would be stored as exact and park the owner's
    orders); a batch that fails as a whole raises."""
    abi = token_abi or load_abi("TestToken")
    bal, allow = abi.fn("balanceOf"), abi.fn("allowance")
    calls: list[tuple[str, list[Any]]] = []
    for owner, token in accounts:
        for data in (bal.encode(owner), allow.encode(owner, spender)):
            calls.append(("eth_call", [{"to": token, "data": "0x" + data.hex()}, block]))
    results = await _batched(rpc, calls)
    read = FundsRead()
    empty: dict[Account, list[int | None]] = {}
    for i, account in enumerate(accounts):
        try:
            values = [_value(raw) for raw in results[2 * i : 2 * i + 2]]
        except ChainError as e:
            read.failed[account] = str(e)[:200]
            continue
        if None in values:
            empty[account] = values
        else:
            read.funds[account] = (values[0] or 0, values[1] or 0)
    if empty:
        tokens = sorted({token for _, token in empty})
        codes = await _batched(rpc, [("eth_getCode", [t, block]) for t in tokens])
        no_code = {t: _no_code(c) for t, c in zip(tokens, codes, strict=True)}
        for account, values in empty.items():
            why = no_code[account[1]]
            if why is None:  # no code: the call answers nothing, a transfer fails
                read.funds[account] = (values[0] or 0, values[1] or 0)
            else:
                read.failed[account] = why
    return read


async def refresh_funds(
    rpc: AsyncRpc,
    mirror: Mirror,
    reread: set[Account],
    unsure: dict[Account, int],
    wanted: Callable[[Account], bool],
    head: Header,
) -> FundsRead:
    """Re-read balance and allowance of every touched account someone needs (``reread``),
    at the mirror's head block (so that amounts later blocks move apply on top of it). An
    account left unread by earlier polls (``unsure``: how many polls failed it, changed
    here) is read again only while still ``wanted`` (an open order of its maker and token,
    or its funds in the mirror). What was read, and what failed (the mirror's figure of
    those is older than the head: review97f, not for the book)."""
    for account in [a for a in unsure if not wanted(a)]:
        del unsure[account]
    accounts = sorted(reread | unsure.keys())
    if not accounts:
        return FundsRead()
    read = await read_funds(rpc, mirror.address, accounts, _token_abi(), block=hex(head.number))
    for account, (balance, allowance) in read.funds.items():
        mirror.set_funds(account, balance, allowance)
        unsure.pop(account, None)
    for account, why in read.failed.items():  # left as they were, read again later
        tries = unsure.get(account, 0) + 1
        log.warning("funds of %s not read (%d of %d): %s", account, tries, FUNDS_TRIES, why)
        if tries < FUNDS_TRIES:
            unsure[account] = tries
        else:  # never readable: as a token whose calls fail (its transfers would)
            unsure.pop(account, None)
            mirror.set_funds(account, 0, 0)
            read.funds[account] = (0, 0)
    for account in read.funds:
        read.failed.pop(account, None)
    return read


@functools.cache
def _token_abi() -> Any:
    return load_abi("TestToken")


async def _batched(rpc: AsyncRpc, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """``calls``' answers, sent in batches of at most ``BATCH_CALLS``."""
    results: list[Any] = []
    for start in range(0, len(calls), BATCH_CALLS):
        results.extend(await rpc.batch(calls[start : start + BATCH_CALLS]))
    return results


def _no_code(raw: Any) -> str | None:
    """None when ``raw`` (an ``eth_getCode`` answer) says there is no code; else why an
    empty ``eth_call`` answer from that address is not a 0."""
    if isinstance(raw, Exception):
        return f"an empty answer, and its code not read: {type(raw).__name__}: {raw}"[:200]
    if raw in ("0x", "0x0"):
        return None
    if not isinstance(raw, str) or not raw.startswith("0x"):
        return f"an empty answer, and its code answered {type(raw).__name__}, not hex data"
    return "an empty answer from a token with code (a state the node does not have)"


def _value(raw: Any) -> int | None:
    """A uint256 from an ``eth_call``'s answer in a batch; 0 for a failed execution, None
    for an empty answer (``0x``: no code there, or a node's failure); raises ``ChainError``
    for anything else."""
    if isinstance(raw, ContractRevert) or _execution_failed(raw):
        return 0
    if isinstance(raw, ChainError):
        raise raw
    if isinstance(raw, Exception):
        raise RpcError(0, f"{type(raw).__name__}: {raw}", None)
    if not isinstance(raw, str) or not raw.startswith("0x"):
        raise RpcError(0, f"an eth_call answered {type(raw).__name__}, not hex data", None)
    if len(raw) < 66:
        if raw == "0x":  # no code at the token's address, or the node failed: see read_funds
            return None
        raise RpcError(0, f"an eth_call answered {len(raw)} characters, not a uint256", None)
    try:
        return int(raw[2:66], 16)
    except ValueError:
        raise RpcError(0, "an eth_call answered data that is not hex", None) from None


def _execution_failed(raw: Any) -> bool:
    """Is ``raw`` the error of a call the EVM ran and failed (not of the node or the link)?"""
    if not isinstance(raw, RpcError):
        return False
    if raw.code in EXECUTION_CODES:
        return True
    text = (raw.message + " " + (raw.data if isinstance(raw.data, str) else "")).lower()
    return any(w in text for w in EXECUTION_WORDS)
