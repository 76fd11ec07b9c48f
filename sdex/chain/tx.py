"""Sending transactions from one key: one sequential nonce lane, receipts, revert reasons.

Hardhat (automine) rejects a transaction whose nonce is ahead of the next one, and JSON-RPC
batches are not processed in order, so a sender hands out nonces one by one under a lock
and sends each transaction on its own.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import coincurve
from eth_hash.auto import keccak

from sdex.chain.fees import MAX_BASE_FEE as MAX_BASE_FEE  # (re-exported: read here before)
from sdex.chain.fees import fees_for as fees_for
from sdex.chain.fees import fees_of as fees_of
from sdex.chain.fees import latest_fees
from sdex.chain.receipt import Log as Log  # (re-exported: where they were read before)
from sdex.chain.receipt import Receipt as Receipt
from sdex.chain.receipt import logs_from_rpc as logs_from_rpc
from sdex.chain.receipt import topics_of as topics_of
from sdex.chain.rpc import Rpc, quantity
from sdex.errors import ChainError, ContractRevert, RpcError, RpcTimeout, TransactionFailed
from sdex.order import address_of


@dataclass(frozen=True, slots=True)
class SignedTx:
    tx_hash: str
    nonce: int
    raw: str
    fees: tuple[int, int] = (0, 0)
    """(base fee, tip) it was signed with: its fee cap is twice the base fee plus the tip."""
    body: tuple[str | None, bytes, int, int] | None = None
    """(to, data, gas, value) as signed: what a replacement signs again at higher fees
    (``sdex.settlement.replace``)."""


def already_known(e: RpcError) -> bool:
    """Is ``e`` a chain's refusal of a transaction its pool or chain holds already (a
    rebroadcast of the same bytes, which is no failure)?"""
    return any(w in str(e).lower() for w in ("known", "already imported"))


_NONCE_REFUSED = re.compile(r"\bnonce too (low|high)\b", re.IGNORECASE)


MAX_AHEAD = 256
"""Nonces past the lane's next kept as taken (``Sender.taken_ahead``), at most."""

OUT_OF_GAS = ("out of gas", "outofgas", "gas required exceeds")
"""How chains say a call ran out of gas (lowercased)."""


def ran_out_of_gas(e: RpcError) -> bool:
    """A call that ran out of gas, as a chain says it without revert data (geth's "out of
    gas", anvil's "OutOfGas"): the transaction's doing, e.g. a wallet that burns its gas."""
    said = str(e).lower()
    return any(w in said for w in OUT_OF_GAS)


def refused_for_nonce(e: RpcError, *, low_only: bool = False) -> bool:
    """Whether the chain refused a send for its nonce (Hardhat's "Nonce too low/high",
    anvil's and geth's "nonce too low/high", with the chain's error code): not an error of
    this client's (code 0: no answer in time, junk; its text names the URL, which may say
    "nonce"), after which the send may have landed (review27: it was signed again and
    sent twice). ``low_only``: only "too low" (the nonce is used by another transaction);
    "too high" says the chain did not take it (a chain that queues a transaction past its
    count, geth's or anvil's pool, does not refuse it): neither lands unless sent again."""
    said = nonce_refusal(e)
    return said is not None and (not low_only or said == "low")


def nonce_refusal(e: BaseException) -> str | None:
    """ "low" or "high" when ``e`` is the chain's refusal of a send for its nonce
    (``refused_for_nonce``), else None."""
    if not isinstance(e, RpcError) or isinstance(e, RpcTimeout) or e.code == 0:
        return None
    found = _NONCE_REFUSED.search(e.message)
    return None if found is None else found.group(1).lower()


class Sender:
    """Signs and sends transactions for one private key with its own nonce lane."""

    def __init__(
        self,
        rpc: Rpc,
        private_key: bytes,
        chain_id: int | None = None,
        *,
        reads_fees: bool = True,
    ) -> None:
        self.rpc = rpc
        self.reads_fees = reads_fees
        """Whether ``sign`` without ``fees`` reads them itself (``latest_fees``: bounded by
        the ceiling alone), off the node only: ``sdex devnet``'s deployment, an on-chain
        cancel from a user's own key (``sdex.walletcancel``), tests. The node's sender is
        built without it: its lane signs only with its ``Fees``' (bounded by the mirror's
        reads, ``HeadSignal``), a signature without them refused (settle89)."""
        self.key = private_key
        self._signer = coincurve.PrivateKey(private_key)
        """The key parsed once (not once a signature)."""
        self.address = address_of(private_key)
        self.chain_id = chain_id if chain_id is not None else self._quantity("eth_chainId")
        self._lock = threading.RLock()
        self._nonce: int | None = None
        self.signed_past: int | None = None
        """One past the highest nonce signed (or, at a start, sent again or counted by the
        chain: ``signed``) by this process; None: none. What a soft cancel names while
        ``next_nonce`` is not known. After a chain reset, the new chain's count
        (``recounted``)."""
        self._recount: int | None = None
        """While a reset's count is read (``recounting``): one past the highest nonce signed
        since (0: none)."""
        self._ahead: set[int] = set()
        """Nonces at or past the next one taken by transactions of this key signed outside
        the lane's count (``taken_ahead``): the next nonce is read again when it comes to
        one (review77a)."""

    def call(self, to: str, data: bytes, block: str = "latest") -> bytes:
        """``eth_call`` from this sender (a pre-flight of the same transaction)."""
        tx = {"from": self.address, "to": to, "data": "0x" + data.hex()}
        return bytes.fromhex(self.rpc.call("eth_call", tx, block)[2:])

    def send(self, to: str | None, data: bytes, gas: int | None = None, value: int = 0) -> str:
        """Sign and send; returns the tx hash. Without ``gas``, estimates it (a pre-flight:
        a transaction that would revert raises ``ContractRevert`` and is never sent)."""
        with self._lock:
            signed = self.sign(to, data, gas, value)
            self.broadcast(signed)
        return signed.tx_hash

    def estimate(self, to: str | None, data: bytes, value: int = 0) -> int:
        """A gas limit with headroom; raises ``ContractRevert`` if the call would revert."""
        tx: dict[str, Any] = {"from": self.address, "data": "0x" + data.hex(), "value": hex(value)}
        if to is not None:
            tx["to"] = to
        return self._quantity("eth_estimateGas", tx) * 6 // 5 + 10_000

    def _quantity(self, method: str, *params: Any) -> int:
        """``method``'s answer, a quantity, or ``ChainError``: a hostile chain's number or
        list is refused as its bad hex is, never a ``TypeError`` (review26)."""
        raw = self.rpc.call(method, *params)
        try:
            return quantity(raw)
        except ValueError as e:
            raise ChainError(f"{self.rpc.url} answered {method} with {e}") from None

    def preflight(self, to: str, data: bytes) -> None:
        """Run the call as this sender at the latest block; raises ``ContractRevert`` if it
        would revert. (Cheaper than ``eth_estimateGas``, which re-runs it many times.)"""
        self.rpc.call(
            "eth_call", {"from": self.address, "to": to, "data": "0x" + data.hex()}, "latest"
        )

    def sign(
        self,
        to: str | None,
        data: bytes,
        gas: int | None = None,
        value: int = 0,
        *,
        fees: tuple[int, int] | None = None,
    ) -> SignedTx:
        """Sign the next transaction of this lane and reserve its nonce (not sent yet).

        Callers that persist a transaction before broadcasting it (settlement) hold ``lock``
        around ``sign`` + their write + ``broadcast`` so nonces go out in order. ``fees``
        (base fee, tip) from the caller saves reading the latest block; with ``gas`` too,
        and the nonce known (``next_nonce``), signing makes no chain call at all.
        """
        if fees is None and not self.reads_fees:
            raise ChainError("no fees given: this sender signs only with fees its caller bounded")
        if gas is None:
            gas = self.estimate(to, data, value)
        fees = latest_fees(self.rpc) if fees is None else fees
        with self._lock:
            if self._nonce is None:
                self._nonce = self._quantity("eth_getTransactionCount", self.address, "pending")
            nonce = self._nonce
            signed = self.sign_at(nonce, to, data, gas, value, fees=fees)
            self._nonce = None if nonce + 1 in self._ahead else nonce + 1
        return signed

    def sign_at(
        self,
        nonce: int,
        to: str | None,
        data: bytes,
        gas: int,
        value: int = 0,
        *,
        fees: tuple[int, int],
    ) -> SignedTx:
        """Sign a transaction at ``nonce``, outside the lane's count (to fill a nonce a lost
        transaction left free)."""
        base_fee, tip = fees
        target = b"" if to is None else bytes.fromhex(to.removeprefix("0x"))
        if to is not None and len(target) != 20:
            raise ValueError(f"not an address: {to!r}")
        raw = sign_eip1559(
            self._signer,
            [
                self.chain_id,
                nonce,
                tip,
                2 * base_fee + tip,
                gas,
                target,
                value,
                data,
                [],  # access list
            ],
        )
        body = (to, data, gas, value)
        self.signed(nonce)
        return SignedTx("0x" + keccak(raw).hex(), nonce, "0x" + raw.hex(), fees, body)

    def broadcast(self, signed: SignedTx) -> None:
        """Send a signed transaction. A rebroadcast of a known one is harmless."""
        try:
            self.rpc.call("eth_sendRawTransaction", signed.raw)
        except ContractRevert as e:
            # Hardhat's automine mines a reverting transaction and still answers with the
            # revert: if a receipt exists, the nonce is spent and the failure is on chain.
            self._revert_receipt(signed, e)
            raise
        except Exception:
            self._nonce = None  # unknown whether it was taken: re-read from the node next time
            raise

    def _revert_receipt(self, signed: SignedTx, e: ContractRevert) -> None:
        """After a send answered with a revert: raises ``TransactionFailed`` when the
        transaction was mined (its receipt exists); else forgets the nonce (also when the
        receipt read itself fails) and returns."""
        if self._ask("eth_getTransactionReceipt", signed) is not None:
            raise TransactionFailed(signed.tx_hash, e) from None
        self._nonce = None

    def broadcast_sync(self, signed: SignedTx, timeout: float) -> tuple[Any, bool | None]:
        """Send with ``eth_sendRawTransactionSync`` (EIP-7966: answered with the receipt once
        mined; anvil serves it): ``(raw receipt or None, served)``. ``served`` is True when
        the chain answered the method (a receipt, or a transaction's revert), False when the
        call failed otherwise (a chain or a proxy that does not serve it, whatever the error:
        the same bytes were then sent with ``eth_sendRawTransaction``), None when no answer
        came within ``timeout`` seconds (mining paused or slow, or a slow endpoint that
        does not serve it: the transaction is sent plainly unless the chain knows it). The
        receipt is then polled. Other failures raise as ``broadcast``."""
        try:
            return self.rpc.call("eth_sendRawTransactionSync", signed.raw, timeout=timeout), True
        except RpcTimeout:
            # (sent, or not served by a slow endpoint: only the chain knows)
            try:
                known = self.rpc.call("eth_getTransactionByHash", signed.tx_hash)
            except Exception:  # (no answer to the ask either: most likely sent, as the
                return None, None  # nonce was taken; its receipt is polled patiently)
            if known is None:
                self._send_again(signed)
            return None, None
        except ContractRevert as e:  # mined and reverted, or refused: the receipt tells
            if (receipt := self._ask("eth_getTransactionReceipt", signed)) is None:
                self._nonce = None
                raise e from None
            return receipt, True
        except Exception:
            # Not served (-32601, Hardhat's -32004, a proxy's 403 or -32600 or -32000): the
            # same bytes plainly (same hash and nonce; a known transaction is no failure).
            self._send_again(signed)
            return None, False

    def _ask(self, method: str, signed: SignedTx) -> Any:
        """``method`` of ``signed``'s hash, after a send whose fate it tells: if the read
        fails, whether the nonce was taken is unknown (re-read from the chain next time)."""
        try:
            return self.rpc.call(method, signed.tx_hash)
        except Exception:
            self._nonce = None
            raise

    def _send_again(self, signed: SignedTx) -> None:
        """``broadcast`` of a transaction that may already be in the chain's pool."""
        try:
            self.broadcast(signed)
        except RpcError as e:
            if not already_known(e):
                raise

    def broadcast_for_receipt(self, signed: SignedTx) -> Any:
        """Send a signed transaction and ask for its receipt in the same round trip: the
        raw receipt, or None when the chain had none yet. (Hardhat's automine mines on the
        send; it runs a batch's requests concurrently, not in a promised order, but in
        practice the receipt read comes after the send's mining (19 of 20 in a probe); anvil
        mines a few ms after answering: None. None only costs a poll.) A reverted
        transaction mined on the send gives its receipt; other failures raise as
        ``broadcast``."""
        try:
            sent, receipt = self.rpc.batch(
                [
                    ("eth_sendRawTransaction", [signed.raw]),
                    ("eth_getTransactionReceipt", [signed.tx_hash]),
                ]
            )
        except Exception:
            self._nonce = None  # unknown whether it was taken: re-read from the node next time
            raise
        if isinstance(receipt, Exception):
            receipt = None
        if isinstance(sent, ContractRevert):
            # Mined and reverted (Hardhat answers so): the receipt tells. Asked again when
            # the batch read it before the mining ended: a nonce forgotten here would be
            # read again while later transactions of the lane are signed and not yet sent.
            if receipt is None:
                receipt = self._ask("eth_getTransactionReceipt", signed)
            if receipt is not None:
                return receipt
            self._nonce = None
            raise sent
        if isinstance(sent, Exception):
            self._nonce = None
            raise sent
        return receipt

    @property
    def next_nonce(self) -> int | None:
        """The nonce the next ``sign`` takes; None: read from the chain then."""
        return self._nonce

    def learn_nonce(self, nonce: int) -> None:
        """Set the next nonce (read by the caller, e.g. ``eth_getTransactionCount`` of the
        pending block) unless one is known already."""
        with self._lock:
            if self._nonce is None:
                self._nonce = nonce
                self._ahead = {n for n in self._ahead if n > nonce}

    def taken_ahead(self, nonce: int) -> None:
        """A transaction of this key signed at ``nonce`` outside the lane's count was sent,
        the lane not there yet (a replaced chain's settlement pooled on the new one,
        displaced: ``sdex.settlement.stale``): when the lane comes to ``nonce``, its next
        nonce is read again from the chain (past it, if the chain holds it). review77a:
        the lane signed its own settlement at that nonce, refused "nonce too low" (signed
        again), or, pooled beside the displacing transfer, "replacement transaction
        underpriced": counted lost, its matches failed. At most ``MAX_AHEAD`` kept."""
        with self._lock:
            if self._nonce is not None and nonce < self._nonce:
                return
            self._ahead.add(nonce)
            if len(self._ahead) > MAX_AHEAD:
                self._ahead.discard(min(self._ahead))
            if self._nonce == nonce:
                self._nonce = None

    def give_back(self, nonce: int) -> None:
        """``nonce`` was signed but never sent (its settlement could not be recorded): the
        next transaction takes it again if none was signed after it; else the next nonce is
        read from the chain (a nonce re-read while an earlier send may still be on the wire
        could hand that send's nonce out twice)."""
        with self._lock:
            self._nonce = nonce if self._nonce == nonce + 1 else None

    def signed(self, nonce: int) -> None:
        """A transaction at ``nonce`` was signed (``signed_past``)."""
        if self.signed_past is None or nonce >= self.signed_past:
            self.signed_past = nonce + 1
        if self._recount is not None and nonce >= self._recount:
            self._recount = nonce + 1

    def recounting(self) -> None:
        """A chain reset: ``signed_past`` counts the old chain's nonces (too high for the new
        one: a soft cancel naming it excuses a settlement signed after it at a lower nonce;
        reset70). It stands until ``recounted``; the nonces signed meanwhile are noted."""
        if self._recount is None:
            self._recount = 0

    def recounted(self, count: int | None) -> None:
        """The new chain's count of this key's transactions (its pending block's), read after
        ``recounting``: ``signed_past`` is that, or one past a nonce signed since if higher.
        None (not read): the old value stands."""
        since, self._recount = self._recount, None
        if since is not None and count is not None:
            self.signed_past = max(count, since) or None

    def forget_nonce(self) -> None:
        """Re-read the next nonce from the chain before the next transaction (after a reorg
        or a chain reset, nonces this lane used may be free again). Lock-free on purpose:
        the event loop must never wait for a settlement thread."""
        self._nonce = None

    @property
    def lock(self) -> threading.RLock:
        """Held across sign + persist + broadcast so one lane's nonces go out in order."""
        return self._lock

    def wait(self, tx_hash: str, timeout: float = 60.0, poll: float = 0.005) -> Receipt:
        """The receipt of ``tx_hash``, polling up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            raw = self.rpc.call("eth_getTransactionReceipt", tx_hash)
            if raw is not None:
                return Receipt.from_rpc(raw)
            if time.monotonic() > deadline:
                raise ChainError(f"no receipt for {tx_hash} after {timeout}s")
            time.sleep(poll)
            poll = min(poll * 2, 0.5)

    def transact(self, to: str | None, data: bytes, gas: int | None = None) -> Receipt:
        """Send, wait, and raise ``TransactionFailed`` (with the revert reason) on status 0."""
        tx_hash = self.send(to, data, gas)
        receipt = self.wait(tx_hash)
        if receipt.status != 1:
            raise TransactionFailed(tx_hash, self.replay_revert(to, data, receipt.block_number))
        return receipt

    def replay_revert(
        self, to: str | None, data: bytes, block_number: int
    ) -> ContractRevert | None:
        """The revert data of a failed transaction, by replaying it on the parent block."""
        if to is None:
            return None
        try:
            self.call(to, data, hex(block_number - 1))
        except ContractRevert as e:
            return e
        return None


RlpItem = int | bytes | list["RlpItem"]


def rlp(item: RlpItem) -> bytes:
    """Recursive-length-prefix encoding of byte strings, unsigned integers and lists."""
    if isinstance(item, list):
        body = b"".join(rlp(x) for x in item)
        return _rlp_length(len(body), 0xC0) + body
    if isinstance(item, int):
        if item < 0:
            raise ValueError("RLP encodes unsigned integers only")
        item = item.to_bytes((item.bit_length() + 7) // 8, "big")
    if len(item) == 1 and item[0] < 0x80:
        return item
    return _rlp_length(len(item), 0x80) + item


def _rlp_length(n: int, offset: int) -> bytes:
    if n < 56:
        return bytes([offset + n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size


def lone_tx_root(raw: bytes) -> str:
    """The ``transactionsRoot`` of a block that holds the signed transaction ``raw`` alone:
    the trie of one leaf, key ``rlp(0)``, whose value is the transaction's bytes."""
    return "0x" + keccak(rlp([b"\x20\x80", raw])).hex()


def sign_eip1559(key: coincurve.PrivateKey, fields: list[RlpItem]) -> bytes:
    """The raw signed type-2 (EIP-1559) transaction of ``fields`` (chain id, nonce, tip,
    fee cap, gas, to, value, data, access list): ``0x02 || rlp(fields + [v, r, s])``, the
    signature over ``keccak(0x02 || rlp(fields))``, deterministic (RFC 6979) and low-s, as
    eth-account makes it (tests/test_chain_tx.py compares the bytes)."""
    sig = key.sign_recoverable(keccak(b"\x02" + rlp(fields)), hasher=None)
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    return b"\x02" + rlp([*fields, v, r, s])
