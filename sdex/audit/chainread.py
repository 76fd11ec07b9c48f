"""The audit's reads of the chain (``sdex.audit.collect`` runs them): the Exchange's logs,
the settlement transactions (their calldata holds the signed orders) and their receipts'
ERC-20 transfers, senders' nonces, blocks' times, order states and makers' code, each in
bounded JSON-RPC requests (``BATCH`` calls a batch; a range or batch the endpoint refuses is
halved and tried again)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from eth_hash.auto import keccak

from sdex.audit.calldata import SettlementTx, parse_transaction
from sdex.audit.facts import Cancel, ChainFacts, SaltCancel, Transfer
from sdex.chain import Exchange, Log, OrderState, Receipt, Rpc
from sdex.chain.rpc import quantity
from sdex.client import describe_request_error
from sdex.deployment import Deployment
from sdex.errors import ChainError, RpcError, RpcTimeout, SdexError
from sdex.order import Domain, SignedOrder, to_checksum

TRANSFER_TOPIC = keccak(b"Transfer(address,address,uint256)")
BATCH = 100  # JSON-RPC calls per HTTP batch, orders per getOrderStates call


class AuditSetupError(SdexError):
    """The audit cannot run: the chain is unreachable or is not the deployment's."""


class ChainReader:
    """Reads the Exchange's record and state over JSON-RPC, in bounded requests."""

    def __init__(self, rpc: Rpc, deployment: Deployment, log_range: int = 2000) -> None:
        self.rpc = rpc
        self.exchange = Exchange(rpc, deployment.exchange)
        self.deployment = deployment
        self.log_range = log_range

    def check_identity(self) -> Domain:
        """The deployment's domain, once the chain confirms it (chain id and eip712Domain)."""
        d = self.deployment
        try:
            chain_id = quantity(self.rpc.call("eth_chainId"))
            domain = self.exchange.domain() if chain_id == d.chain_id else None
        except (requests.RequestException, RpcTimeout) as e:
            # (the URL once, and what to do: it read "URL: URL: [Errno 111] ...", user29)
            said = (
                describe_request_error(e)
                if isinstance(e, requests.RequestException)
                else f"no complete answer within {e.seconds:g}s"  # (the URL once: user44)
            )
            raise AuditSetupError(
                f"cannot reach the JSON-RPC endpoint {self.rpc.url}: {said} (is that chain "
                "still running? --rpc URL names another endpoint)"
            ) from e
        except ChainError as e:
            raise AuditSetupError(
                f"no SDEX Exchange at {to_checksum(d.exchange)} on {self.rpc.url}: {e}"
            ) from e
        expected = Domain(d.chain_id, d.exchange)
        if domain != expected:
            raise AuditSetupError(
                f"the chain at {self.rpc.url} (chain {chain_id}) is not the deployment's "
                f"(chain {d.chain_id}, Exchange {to_checksum(d.exchange)})"
            )
        return expected

    def head(self) -> int:
        return quantity(self.rpc.call("eth_blockNumber"))

    def logs(self, from_block: int, to_block: int) -> list[Log]:
        """Every Exchange log in the range, ``log_range`` blocks per ``eth_getLogs``; a range
        the endpoint refuses (too many results) is halved and retried."""
        out: list[Log] = []
        start, step = from_block, self.log_range
        while start <= to_block:
            end = min(to_block, start + step - 1)
            query = {"address": self.exchange.address, "fromBlock": hex(start), "toBlock": hex(end)}
            try:
                raw = self.rpc.call("eth_getLogs", query)
            except RpcError:
                if step == 1:
                    raise
                step = max(1, step // 2)
                continue
            out += [Log.from_rpc(x) for x in raw]
            start = end + 1
        out.sort(key=lambda log: (log.block_number, log.log_index))
        return out

    def _batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        out: list[Any] = []
        for i in range(0, len(calls), BATCH):
            for r in self.rpc.batch(calls[i : i + BATCH]):
                if isinstance(r, Exception):
                    raise ChainError(f"reading the chain failed: {r}")
                out.append(r)
        return out

    def transfers(self, tx_hashes: Sequence[str]) -> dict[str, list[Transfer]]:
        """The ERC-20 Transfer logs of each transaction, from its receipt."""
        raws = self._batch([("eth_getTransactionReceipt", [tx]) for tx in tx_hashes])
        out = {}
        for tx, raw in zip(tx_hashes, raws, strict=True):
            if raw is None:
                continue
            out[tx] = [t for log in Receipt.from_rpc(raw).logs if (t := _transfer(log))]
        return out

    def transactions(self, tx_hashes: Sequence[str]) -> dict[str, SettlementTx]:
        """``eth_getTransactionByHash`` of each, ``BATCH`` per HTTP batch; a batch whose
        answer the client refuses (too large: calldata can be big) is halved and retried."""
        out: dict[str, SettlementTx] = {}
        start, step = 0, BATCH
        while start < len(tx_hashes):
            chunk = tx_hashes[start : start + step]
            try:
                raws = self.rpc.batch([("eth_getTransactionByHash", [tx]) for tx in chunk])
            except RpcError:
                if step == 1:
                    raise
                step = max(1, step // 2)
                continue
            for tx, raw in zip(chunk, raws, strict=True):
                if isinstance(raw, Exception):
                    raise ChainError(f"reading transaction {tx} failed: {raw}")
                out[tx] = parse_transaction(raw, tx)
            start += len(chunk)
        return out

    def nonces_at(self, wanted: Sequence[tuple[str, int]], head: int) -> dict[tuple[str, int], int]:
        """Each address's transaction count at each block up to ``head``
        (``eth_getTransactionCount``); one the endpoint cannot answer (a node that keeps no
        old state) is left out: its cancels are not checked."""
        asked = [(a, b) for a, b in wanted if b <= head]
        out = {}
        for i in range(0, len(asked), BATCH):
            chunk = asked[i : i + BATCH]
            calls = [("eth_getTransactionCount", [a, hex(b)]) for a, b in chunk]
            for w, raw in zip(chunk, self.rpc.batch(calls), strict=True):
                if not isinstance(raw, Exception):
                    out[w] = quantity(raw)
        return out

    def block_times(self, blocks: Sequence[int]) -> dict[int, int]:
        raws = self._batch([("eth_getBlockByNumber", [hex(b), False]) for b in blocks])
        return {b: quantity(raw["timestamp"]) for b, raw in zip(blocks, raws, strict=True)}

    def states(
        self, orders: Sequence[SignedOrder], head: int
    ) -> dict[tuple[bytes, bytes], OrderState]:
        """``getOrderStates`` at ``head`` for each distinct (order, signature)."""
        distinct = list({(s.hash, s.signature): s for s in orders}.values())
        out = {}
        for i in range(0, len(distinct), BATCH):
            chunk = distinct[i : i + BATCH]
            for s, st in zip(chunk, self.exchange.order_states(chunk, hex(head)), strict=True):
                out[(s.hash, s.signature)] = st
        return out

    def contracts(self, addresses: Sequence[str], head: int) -> set[str]:
        """Which of ``addresses`` have code at ``head`` (EIP-1271 makers)."""
        codes = self._batch([("eth_getCode", [a, hex(head)]) for a in addresses])
        return {a for a, code in zip(addresses, codes, strict=True) if code not in ("0x", "0x0")}

    def read(self, domain: Domain, from_block: int, head: int) -> ChainFacts:
        """The Exchange's events from ``from_block`` to ``head``, the Transfer logs of every
        settlement transaction and the blocks' times (order states come later, once the
        orders are known)."""
        facts = ChainFacts(domain=domain, from_block=from_block, head=head)
        logs = self.logs(from_block, head)
        facts.fills = self.exchange.fills(logs)
        events = self.exchange.abi.events
        cancelled, up_to = events["OrderCancelled"], events["OrdersCancelledUpTo"]
        skipped = events["MatchSkipped"].topic
        for log in logs:
            if log.address != self.exchange.address or not log.topics:
                continue
            topic = log.topics[0]
            if topic == cancelled.topic:
                a = cancelled.decode(log.topics, log.data)
                facts.cancels.append(
                    Cancel(
                        bytes(a["orderHash"]),
                        a["maker"].lower(),
                        log.block_number,
                        log.log_index,
                        log.tx_hash,
                    )
                )
            elif topic == up_to.topic:
                a = up_to.decode(log.topics, log.data)
                facts.salt_cancels.append(
                    SaltCancel(
                        a["maker"].lower(),
                        int(a["minValidSalt"]),
                        log.block_number,
                        log.log_index,
                        log.tx_hash,
                    )
                )
            elif topic == skipped:
                facts.skipped += 1
        txs = list(dict.fromkeys(e.tx_hash for e in facts.fills))
        facts.transfers = self.transfers(txs)
        facts.block_times = self.block_times(sorted({e.block_number for e in facts.fills}))
        return facts


def _transfer(log: Log) -> Transfer | None:
    """An ERC-20 Transfer (ERC-721's has the amount indexed: four topics, no data)."""
    if len(log.topics) != 3 or log.topics[0] != TRANSFER_TOPIC or len(log.data) != 32:
        return None
    return Transfer(
        token=log.address,
        sender="0x" + log.topics[1][-20:].hex(),
        recipient="0x" + log.topics[2][-20:].hex(),
        amount=int.from_bytes(log.data, "big"),
    )
