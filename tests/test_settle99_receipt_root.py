"""settle99: ``lone_receipt_root`` is the ``receiptsRoot`` a real Hardhat node seals in a
block that holds one transaction alone, for each kind of receipt the node's settlements give
(type 2; a legacy one too, though the node never sends one): no logs, one log, a batch of 20
matches (~100 logs), and a status 0; any change to its status, gas or logs changes the root."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from eth_account import Account

from sdex.chain import Receipt
from sdex.chain.arpc import AsyncRpc
from sdex.chain.receiptroot import logs_bloom, lone_receipt_root, tx_type
from sdex.chain.tx import lone_tx_root
from sdex.errors import ContractRevert, TransactionFailed
from sdex.mirror.seal import sealed
from sdex.order import to_checksum
from sdex.settlement.confirm import Tally, confirmed, gas_believed, proven, told
from tests.conftest import Chain

E18, E6 = 10**18, 10**6
OPERATOR, ALICE, BOB = 0, 1, 2


def block_of(c: Chain, got: Receipt, raw: str) -> dict[str, object]:
    """The sealed block of ``got``, which holds ``raw`` alone: checked here, as the root's
    use needs it."""
    block = c.rpc.call("eth_getBlockByHash", got.block_hash, False)
    assert sealed(block) and block["transactions"] == [got.tx_hash]
    assert block["transactionsRoot"] == lone_tx_root(bytes.fromhex(raw[2:]))
    assert int(block["gasUsed"], 16) == got.gas_used
    return block  # type: ignore[no-any-return]


def agrees(c: Chain, got: Receipt, raw: str) -> None:
    block = block_of(c, got, raw)
    kind = tx_type(bytes.fromhex(raw[2:]))
    assert block["receiptsRoot"] == lone_receipt_root(got, kind)
    assert block["logsBloom"] == "0x" + logs_bloom(got.logs).hex()
    changed = [
        replace(got, status=1 - got.status),
        replace(got, gas_used=got.gas_used + 1),
    ]
    if got.logs:
        first = got.logs[0]
        changed.append(replace(got, logs=got.logs[:-1]))
        changed.append(replace(got, logs=[*got.logs, first]))
        changed.append(replace(got, logs=[first._replace(data=first.data + b"\x00")]))
        changed.append(replace(got, logs=[first._replace(topics=first.topics[1:]), *got.logs[1:]]))
        changed.append(replace(got, logs=got.logs[::-1]) if len(got.logs) > 1 else got)
    for other in changed:
        if other is not got:
            assert block["receiptsRoot"] != lone_receipt_root(other, kind)
    assert block["receiptsRoot"] != lone_receipt_root(got, 0 if kind else 2)


def test_type2_receipts_no_log_one_log_reverted(chain: Chain) -> None:
    c = chain
    sender = c.sender(5)
    for to, data, gas in (
        (c.address(6), b"", 21_000),  # no logs
        (c.weth.address, c.weth.abi.fn("transfer").encode(c.address(6), 7), 100_000),
        (c.weth.address, c.weth.abi.fn("transfer").encode(c.address(6), 10**40), 100_000),
    ):
        signed = sender.sign(to, data, gas)
        with contextlib.suppress(ContractRevert, TransactionFailed):  # (a mined revert)
            sender.broadcast(signed)
        got = sender.wait(signed.tx_hash)
        agrees(c, got, signed.raw)
    assert got.status == 0


def batch_of_20(c: Chain) -> tuple[Receipt, str]:
    """A settlement of 20 matches, mined alone: its receipt and signed bytes."""
    resting = c.sign(c.order(ALICE, c.weth, 20 * E18 // 100, c.usdc, 20 * 30 * E6))
    takers = [c.sign(c.order(BOB, c.usdc, 30 * E6, c.weth, E18 // 100)) for _ in range(20)]
    data = c.exchange.encode_batch([(resting, t, 2**256 - 1) for t in takers])
    sender = c.sender(OPERATOR)
    signed = sender.sign(c.exchange.address, data, 8_000_000)
    sender.broadcast(signed)
    got = sender.wait(signed.tx_hash)
    assert got.status == 1 and len(got.logs) >= 60
    return got, signed.raw


def test_a_batch_of_20_matches(chain: Chain) -> None:
    agrees(chain, *batch_of_20(chain))


async def test_gas_believed_only_of_the_chains_receipt(chain: Chain) -> None:
    """``gas_believed`` (confirm97: the header's gasUsed alone was compared) and ``proven``
    (``confirmed_seen``'s one header read) believe the receipt the chain sealed, and no
    receipt a liar altered: its logs (one dropped, one's data or index changed), its status,
    its gas; one ``proven`` refuses is barred (no read apart believes it after)."""
    c = chain
    got, raw = batch_of_20(c)
    first = got.logs[0]
    lies = [
        replace(got, status=0),
        replace(got, gas_used=got.gas_used * 10),
        replace(got, logs=got.logs[1:]),
        replace(got, logs=[first._replace(data=bytes(len(first.data))), *got.logs[1:]]),
        replace(got, logs=[first._replace(log_index=7), *got.logs[1:]]),
        replace(got, logs=[]),
        replace(got, block_number=got.block_number + 1),
    ]
    rpc = AsyncRpc(c.rpc.url)
    try:
        assert await gas_believed(rpc, got, raw, None)
        # (confirmed_seen's one header read: alone, of the block the watcher applied at its
        # number; else one read apart giving it, review99: a liar seals a block it made up)
        assert await proven(rpc, got, raw, Tally(), kept=got.block_hash)
        unkept = Tally()
        assert not await proven(rpc, got, raw, unkept) and unkept.agreed == {told(got): 1}
        assert await confirmed(rpc, got, 10.0, unkept)  # (CONFIRM_READS in a row)
        for lie in lies:
            assert not await gas_believed(rpc, lie, raw, None), lie.status
            tally = Tally()
            assert not await proven(rpc, lie, raw, tally) and not await confirmed(
                rpc, lie, 10.0, tally
            )
        other = c.sender(5).sign(c.address(6), b"", 21_000)  # (not the block's transaction)
        assert not await gas_believed(rpc, got, other.raw, None)
    finally:
        await rpc.close()


def test_a_legacy_transaction(chain: Chain) -> None:
    c = chain
    key = c.keys[7]
    address = Account.from_key(key).address
    nonce = int(c.rpc.call("eth_getTransactionCount", address, "pending"), 16)
    data = c.weth.abi.fn("transfer").encode(c.address(6), 3)
    signed = Account.sign_transaction(
        {"nonce": nonce, "gasPrice": 10**10, "gas": 100_000, "to": to_checksum(c.weth.address),
         "value": 0, "data": data, "chainId": c.deployment.chain_id},
        key,
    )  # fmt: skip
    raw = "0x" + bytes(signed.raw_transaction).hex()
    c.rpc.call("eth_sendRawTransaction", raw)
    got = c.sender(7).wait("0x" + bytes(signed.hash).hex())
    assert tx_type(bytes.fromhex(raw[2:])) == 0 and len(got.logs) == 1
    agrees(c, got, raw)
