"""The settlement lane's own EIP-1559 signer (a key parsed once, RLP by hand) makes the very
bytes eth-account makes, and its transactions are accepted and mined by the chain."""

from __future__ import annotations

from typing import Any

import coincurve
import pytest
from eth_account import Account

from sdex.chain.rpc import Rpc
from sdex.chain.tx import Sender, lone_tx_root, rlp, sign_eip1559
from sdex.errors import ContractRevert, RpcError
from sdex.order import to_checksum
from tests.conftest import Chain

KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
TO = "0x5fbdb2315678afecb367f032d93f642f64180aa3"


@pytest.mark.parametrize(
    ("nonce", "to", "data", "value", "gas", "fee_cap", "tip"),
    [
        (0, TO, b"", 0, 21_000, 0, 0),
        (7, TO, b"\x01\x02", 1, 200_000, 2_875_000_000, 1_000_000_000),
        (2**20, TO, bytes(range(256)) * 300, 10**18, 16_000_000, 2 * 10**12 + 5, 10**9),
        (55, None, b"\x60\x00" * 40, 0, 3_000_000, 10**9, 0),
    ],
)
def test_signed_bytes_are_eth_accounts(
    nonce: int, to: str | None, data: bytes, value: int, gas: int, fee_cap: int, tip: int
) -> None:
    to_bytes = b"" if to is None else bytes.fromhex(to[2:])
    fields = [31337, nonce, tip, fee_cap, gas, to_bytes, value, data, []]
    ours = sign_eip1559(coincurve.PrivateKey(KEY), fields)  # type: ignore[arg-type]
    tx: dict[str, object] = {
        "chainId": 31337,
        "nonce": nonce,
        "data": data,
        "value": value,
        "gas": gas,
        "maxFeePerGas": fee_cap,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    if to is not None:
        tx["to"] = to_checksum(to)
    theirs = Account.sign_transaction(tx, KEY)
    assert ours == bytes(theirs.raw_transaction)
    assert Account.recover_transaction(ours) == Account.from_key(KEY).address


def test_rlp_lengths_and_integers() -> None:
    assert rlp(0) == b"\x80" and rlp(127) == b"\x7f" and rlp(128) == b"\x81\x80"
    assert rlp(b"") == b"\x80" and rlp([]) == b"\xc0"
    assert rlp(b"a" * 55) == b"\xb7" + b"a" * 55
    assert rlp(b"a" * 56) == b"\xb8\x38" + b"a" * 56
    assert rlp([b"a" * 60]) == b"\xf8\x3e\xb8\x3c" + b"a" * 60
    with pytest.raises(ValueError):
        rlp(-1)


def test_the_chain_mines_what_it_signs(chain: Chain) -> None:
    c = chain
    sender = Sender(c.rpc, c.keys[5], c.deployment.chain_id)
    before = c.weth.balance_of(c.address(6))
    data = c.weth.abi.fn("transfer").encode(c.address(6), 12345)
    receipt = sender.transact(c.weth.address, data, 100_000)
    assert receipt.status == 1
    assert c.weth.balance_of(c.address(6)) == before + 12345
    with pytest.raises(ValueError):
        sender.sign("0x1234", b"", 21_000, fees=(1, 1))


def test_a_block_of_one_transaction_has_its_lone_root(chain: Chain) -> None:
    """The watcher skips reading a block whose header's transactionsRoot is the root of
    our settlement alone: the chain computes that root as ``lone_tx_root`` does."""
    c = chain
    sender = Sender(c.rpc, c.keys[5], c.deployment.chain_id)
    for data in (b"", bytes(range(256)) * 20):  # a short leaf and a long one
        signed = sender.sign(c.address(6), data, 200_000)
        sender.broadcast(signed)
        receipt = sender.wait(signed.tx_hash)
        block = c.rpc.call("eth_getBlockByNumber", hex(receipt.block_number), False)
        assert block["transactions"] == [signed.tx_hash]
        assert block["transactionsRoot"] == lone_tx_root(bytes.fromhex(signed.raw[2:]))
        other = sender.sign_at(signed.nonce, c.address(7), data, 200_000, fees=(1, 1))
        assert block["transactionsRoot"] != lone_tx_root(bytes.fromhex(other.raw[2:]))


def test_a_nonce_signed_but_never_sent_is_given_back(chain: Chain) -> None:
    """A settlement whose record failed gives its nonce back exactly (no chain re-read while
    an earlier send may still be on the wire); if another was signed after it, the next
    nonce is read from the chain."""
    c = chain
    sender = Sender(c.rpc, c.keys[5], c.deployment.chain_id)
    data = c.weth.abi.fn("transfer").encode(c.address(6), 1)
    first = sender.sign(c.weth.address, data, 100_000)
    sender.give_back(first.nonce)
    assert sender.next_nonce == first.nonce
    again = sender.sign(c.weth.address, data, 100_000)
    later = sender.sign(c.weth.address, data, 100_000)
    assert (again.nonce, later.nonce) == (first.nonce, first.nonce + 1)
    sender.give_back(again.nonce)  # one was signed after it: not the lane's last
    assert sender.next_nonce is None


class _RevertThenDown(Rpc):
    """Answers a send with a revert, then fails the receipt read (the chain went away)."""

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        if method.startswith("eth_sendRawTransaction"):
            raise ContractRevert(b"", "execution reverted")
        if method == "eth_getTransactionReceipt":
            raise RpcError(-32000, "upstream gone")
        return super().call(method, *params, timeout=timeout)


@pytest.mark.parametrize("sync", [False, True])
def test_a_revert_whose_receipt_read_fails_forgets_the_nonce(chain: Chain, sync: bool) -> None:
    """Whether the reverted send took its nonce is unknown when the receipt read fails: the
    next nonce is read from the chain again (before: kept, the lane could skip a nonce)."""
    c = chain
    sender = Sender(_RevertThenDown(c.rpc.url), c.keys[3], c.deployment.chain_id)
    signed = sender.sign(c.address(2), b"", 21_000)
    assert sender.next_nonce == signed.nonce + 1
    with pytest.raises(RpcError):
        if sync:
            sender.broadcast_sync(signed, 0.5)
        else:
            sender.broadcast(signed)
    assert sender.next_nonce is None
