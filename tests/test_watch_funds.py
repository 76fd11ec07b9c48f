"""``read_funds`` against the real chain: a call the EVM ran and failed (a revert, an
invalid opcode, out of gas) is 0, and so is an empty answer from an address without code;
any other error of one call (an empty answer from a token with code among them) leaves that
account unread (a 0 would be stored as exact and park the owner's orders), and the watcher
reads it again with its next polls (0 only after ``FUNDS_TRIES``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.exchange import decode_order_states
from sdex.errors import ContractRevert, RpcError
from sdex.watch import FundsRead, read_funds
from sdex.watch.changes import BlockChanges
from sdex.watch.funds import BATCH_CALLS, _value
from sdex.watch.watcher import FUNDS_TRIES
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_mirror import synced
from tests.test_node import ALICE, E6, E18, ask


def _read(chain: Chain, accounts: list[tuple[str, str]], block: str = "latest") -> FundsRead:
    async def go() -> FundsRead:
        rpc = AsyncRpc(chain.rpc.url)
        try:
            return await read_funds(rpc, chain.exchange.address, accounts, block=block)
        finally:
            await rpc.close()

    return asyncio.run(go())


def test_read_funds_reads_balances_and_counts_a_revert_or_no_code_as_zero(chain: Chain) -> None:
    owner = chain.address(0)
    balance = chain.weth.balance_of(owner)
    assert balance > 0
    no_code = "0x" + "11" * 20
    read = _read(
        chain, [(owner, chain.weth.address), (owner, chain.exchange.address), (owner, no_code)]
    )
    assert read.failed == {}
    assert read.funds[(owner, chain.weth.address)][0] == balance
    assert read.funds[(owner, chain.exchange.address)] == (0, 0)  # reverts: no balanceOf there
    assert read.funds[(owner, no_code)] == (0, 0)


def test_read_funds_leaves_unread_an_account_whose_call_the_node_cannot_answer(
    chain: Chain,
) -> None:
    """A block the node cannot answer for (as a pruned node's "missing trie node"): the
    account is in ``failed``, not read as (0, 0) to be stored as exact."""
    owner = chain.address(0)
    head = int(chain.rpc.call("eth_blockNumber"), 16)
    read = _read(chain, [(owner, chain.weth.address)], block=hex(head + 1000))
    assert read.funds == {} and list(read.failed) == [(owner, chain.weth.address)]


def test_read_funds_sends_batches_a_node_accepts(chain: Chain) -> None:
    """Many accounts (a long catch-up): batches of at most ``BATCH_CALLS`` calls (geth
    refuses a batch of more than 1,000 by default), every account read."""
    owners = [f"0x{i:040x}" for i in range(1, 301)]
    sizes: list[int] = []

    async def go() -> FundsRead:
        rpc = AsyncRpc(chain.rpc.url)
        batch = rpc.batch

        async def counted(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            sizes.append(len(calls))
            return await batch(calls)

        rpc.batch = counted  # type: ignore[method-assign]
        try:
            accounts = [(o, chain.weth.address) for o in owners]
            return await read_funds(rpc, chain.exchange.address, accounts)
        finally:
            await rpc.close()

    read = asyncio.run(go())
    assert read.failed == {} and len(read.funds) == 300
    assert sum(sizes) == 600 and max(sizes) <= BATCH_CALLS and len(sizes) == 3


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (ContractRevert(b""), 0),
        (RpcError(3, "execution reverted", "0x"), 0),
        (RpcError(-32015, "VM execution error.", "revert"), 0),  # Nethermind
        (RpcError(-32000, "invalid opcode: INVALID"), 0),  # a legacy token's throw
        (RpcError(-32000, "out of gas"), 0),
        ("0x" + "00" * 31 + "07", 7),
        ("0x", None),  # no code at the address, or the node failed: its code decides
    ],
)
def test_a_failed_execution_counts_as_zero(raw: Any, value: int | None) -> None:
    assert _value(raw) == value


@pytest.mark.parametrize("code_fails", ["", "error", "null"])
def test_an_empty_answer_is_a_zero_only_from_an_address_without_code(
    chain: Chain, code_fails: str
) -> None:
    """``0x`` from a token with code (as Hardhat answers for a state it does not have,
    injected into the real node's answers) is that call's failure, not a 0 that would park
    the owner's orders; from an address without code (its ``eth_getCode`` read) a 0; and
    when that code cannot be read (an error, or null: not said to be a token with code), a
    failure too."""
    owner = chain.address(0)
    no_code = "0x" + "11" * 20
    weth = chain.weth.address.lower()

    async def go() -> FundsRead:
        rpc = AsyncRpc(chain.rpc.url)
        real = rpc.batch

        async def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            out = await real(calls)
            for i, (method, params) in enumerate(calls):
                if method == "eth_call" and params[0]["to"].lower() == weth:
                    out[i] = "0x"
                elif method == "eth_getCode" and code_fails:
                    error = RpcError(-32000, "header not found (injected)")
                    out[i] = error if code_fails == "error" else None
            return out

        rpc.batch = batch  # type: ignore[method-assign]
        try:
            accounts = [(owner, chain.weth.address), (owner, no_code)]
            return await read_funds(rpc, chain.exchange.address, accounts)
        finally:
            await rpc.close()

    read = asyncio.run(go())
    assert (owner, chain.weth.address) in read.failed
    if code_fails:
        assert read.funds == {} and (owner, no_code) in read.failed
        assert all("with code" not in why for why in read.failed.values()), read.failed
    else:
        assert read.funds == {(owner, no_code): (0, 0)}


@pytest.mark.parametrize(
    "raw",
    [
        RpcError(-32000, "missing trie node 1234abcd (path ) state is not available"),
        RpcError(-32000, "header not found"),
        RpcError(-32005, "rate limit exceeded"),
        RpcError(0, "no answer to this call in the batch"),
        ValueError("a malformed entry"),
        "0x12",
        None,
    ],
)
def test_any_other_answer_is_not_a_zero(raw: Any) -> None:
    with pytest.raises((RpcError, ValueError)):
        _value(raw)


async def test_an_account_the_node_cannot_read_keeps_its_funds_until_it_reads_or_gives_up(
    chain: Chain, tmp_path: Path
) -> None:
    """The watcher with one account's calls failing (injected into the real node's answers):
    its funds are left as they were and read again by the next polls; the others are read;
    after ``FUNDS_TRIES`` failed polls it counts as 0 (as a token whose calls always fail)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _):
        w, m = node.watcher, node.mirror
        weth = c.weth.address.lower()
        good, bad = (c.address(1).lower(), weth), (c.address(2).lower(), weth)
        await synced(node, c)
        m.set_funds(bad, 5, 5)
        real = w.rpc.batch
        failing = {"on": True}

        async def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            out = await real(calls)
            for i, (_, params) in enumerate(calls):
                if failing["on"] and bad[0][2:].lower() in params[0]["data"]:
                    out[i] = RpcError(-32000, "missing trie node (injected)")
            return out

        w.rpc.batch = batch
        changes = BlockChanges(head=0, head_hash="", timestamp=0, reread={good, bad})
        await w._refresh_funds(changes)
        assert m.funds[good][0] == c.weth.balance_of(good[0])
        assert m.funds[bad] == (5, 5)  # left as it was, not 0
        for _ in range(FUNDS_TRIES - 2):  # read again by the next polls (nothing new)
            await w._refresh_funds(BlockChanges(head=0, head_hash="", timestamp=0))
        assert m.funds[bad] == (5, 5)
        failing["on"] = False
        await w._refresh_funds(BlockChanges(head=0, head_hash="", timestamp=0))
        assert m.funds[bad] == (c.weth.balance_of(bad[0]), c.weth.allowance(bad[0], m.address))
        failing["on"] = True
        m.set_funds(bad, 5, 5)
        for _ in range(FUNDS_TRIES):
            await w._refresh_funds(BlockChanges(head=0, head_hash="", timestamp=0, reread={bad}))
        assert m.funds[bad] == (0, 0)  # never readable: given up


def test_an_order_states_answer_short_of_its_rows_is_an_error_not_zeros(chain: Chain) -> None:
    """``getOrderStates`` answered in full decodes; answered ``0x`` (a node without that
    block's state) or cut short (the last word, a maker's allowance, missing), it raises
    rather than read the missing words as 0 (an unfunded maker)."""
    c = chain
    orders = [c.sign(ask(c, ALICE, E18, 3000 * E6))]
    tx = {"to": c.exchange.address, "data": "0x" + c.exchange.encode_order_states(orders).hex()}
    data = bytes.fromhex(c.rpc.call("eth_call", tx, "latest")[2:])
    (state,) = decode_order_states(data)
    assert state.maker_allowance > 0
    for short in (b"", data[:-32], data[:-1], data[:64]):
        with pytest.raises(ValueError):
            decode_order_states(short)
