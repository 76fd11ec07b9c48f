"""Reading the facts: Exchange logs, receipts, settlement transactions (their calldata holds
the signed orders) and state from the chain; books and fills from the nodes; signed orders
from files. The only part of the audit that does I/O.

Nodes are read first and the chain after, at a pinned head block: a node's view is then never
newer than the chain's, so a fill that lands during the audit cannot make an honest node look
ahead of the chain. Before reading a node, the audit waits (bounded) until its watcher has
processed the chain's head, when its ``/health`` reports a ``block``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import requests
from eth_hash.auto import keccak

from sdex import jsonio
from sdex.audit.calldata import SettlementTx, calldata_orders, parse_transaction
from sdex.audit.facts import (
    BookEntry,
    Cancel,
    ChainFacts,
    ClosedEntry,
    Facts,
    NodeFacts,
    OrderCopy,
    SaltCancel,
    Transfer,
)
from sdex.audit.nodeparse import cancel_count, operator_of, unnoted_cancels
from sdex.chain import Exchange, Log, OrderState, Receipt, Rpc
from sdex.chain.rpc import quantity
from sdex.client import (
    NodeApiError,
    NodeClient,
    NodeProtocolError,
    NodeUnreachableError,
    OrderRecord,
    describe_request_error,
)
from sdex.deployment import Deployment
from sdex.errors import ChainError, OrderParseError, RpcError, RpcTimeout, SdexError
from sdex.model import OPEN_STATUSES
from sdex.order import Domain, SignedOrder, parse_hex_bytes, parse_uint

"""The API statuses of orders in a node's book (PRODUCT.md section 3)."""

NODE_CLOSED_STATUSES = frozenset({"removed", "cancelled", "dropped", "killed"})
"""Statuses of orders a node closed by its own decision, not because the chain made them
unfillable: an IOC/FOK remainder dropped or killed, a self-trade or settlement-failure
removal, a soft cancel. The chain may still fill such an order; the user was told it is dead.
(The node API reports dropped and killed remainders as ``removed`` with that ``reason``.)"""

TRANSFER_TOPIC = keccak(b"Transfer(address,address,uint256)")
PER_PAGE = 1000  # the API's maximum
MAX_PAGES = 10_000  # a node that keeps answering "there is more" is refused after these
BATCH = 100  # JSON-RPC calls per HTTP batch, orders per getOrderStates call


class AuditSetupError(SdexError):
    """The audit cannot run: the chain is unreachable or is not the deployment's."""


class OrdersFileError(AuditSetupError, ValueError):
    """An ``--orders`` file is not a list of signed orders."""


# -- order files ---------------------------------------------------------------------------


ORDERS_FILE_BYTES = 1 << 30
"""An ``--orders`` file's size bound: ~1 million records as ``GET /v1/orders`` gives them."""
ORDERS_FILE_DEPTH = 16
"""Its nesting bound (a page, its records, an order and its ``metaData``: 4 deep): a file
nested 200,000 deep crashed the interpreter (py_ecc raises the recursion limit)."""


def load_orders(path: Path, domain: Domain) -> list[OrderCopy]:
    """Signed orders from a JSON file: a list of order JSONs (each may carry the
    ``orderHash`` it is filed under), of ``{"order", "metaData": {"orderHash"}}`` records, or
    an API page ``{"records": [...]}`` as ``GET /v1/orders`` returns it."""
    try:
        if Path(path).stat().st_size > ORDERS_FILE_BYTES:
            raise ValueError(f"more than {ORDERS_FILE_BYTES} bytes")
        data = Path(path).read_bytes()
        obj = jsonio.loads(
            data, max_bytes=ORDERS_FILE_BYTES, max_depth=ORDERS_FILE_DEPTH, floats=True
        )
    except (OSError, ValueError) as e:
        raise OrdersFileError(f"cannot read orders file {path}: {e}") from None
    items = obj.get("records") if isinstance(obj, dict) else obj
    if not isinstance(items, list):
        raise OrdersFileError(f"{path}: expected a JSON list of signed orders")
    out = []
    for i, item in enumerate(items):
        where = f"{path}#{i}"
        try:
            order_obj, claimed = _entry(item)
            signed = SignedOrder.from_json(order_obj, domain)
            out.append(OrderCopy(signed, where, _hash_or_none(claimed)))
        except (OrderParseError, ValueError) as e:
            raise OrdersFileError(f"{where}: not a signed order: {e}") from None
    return out


def _entry(item: object) -> tuple[object, object]:
    """(order JSON, the hash it is filed under or None) of one file entry."""
    if isinstance(item, dict) and isinstance(item.get("order"), dict):
        meta = item.get("metaData")
        return item["order"], meta.get("orderHash") if isinstance(meta, dict) else None
    if isinstance(item, dict):
        return item, item.get("orderHash")
    raise ValueError("an entry must be a JSON object")


def _hash_or_none(raw: object) -> bytes | None:
    if raw is None:
        return None
    h = parse_hex_bytes(raw, "orderHash")
    if len(h) != 32:
        raise ValueError("orderHash must be 32 bytes")
    return h


# -- the chain -----------------------------------------------------------------------------


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
            raise AuditSetupError(f"no SDEX Exchange at {d.exchange} on {self.rpc.url}: {e}") from e
        expected = Domain(d.chain_id, d.exchange)
        if domain != expected:
            raise AuditSetupError(
                f"the chain at {self.rpc.url} (chain {chain_id}) is not the deployment's "
                f"(chain {d.chain_id}, Exchange {d.exchange})"
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


# -- the nodes -----------------------------------------------------------------------------


def read_node(
    url: str, domain: Domain, head: int, sync_timeout: float
) -> tuple[NodeFacts, list[OrderCopy]]:
    """A node's book and claimed fills, and every order it holds as order copies.

    Waits up to ``sync_timeout`` seconds for the node to process block ``head``.
    A node that cannot be read in full gets ``error`` set; what was read is kept.
    """
    node = NodeFacts(url, target=head)
    copies: list[OrderCopy] = []
    with NodeClient(url) as client:
        try:
            started = time.monotonic()
            node.block, node.operator = _wait_synced(client, domain, head, sync_timeout)
            node.waited = time.monotonic() - started
            # Walked by cursor (``NodeClient.walk``): an order or fill that arrives while the
            # audit reads comes at the end and none is skipped or counted twice, as a walk
            # by page numbers would when records come or go before the page it reads.
            for rec in client.all_orders(per_page=PER_PAGE, max_pages=MAX_PAGES):
                copy = _copy(rec, url, domain)
                copies.append(copy)
                h = copy.signed.hash
                meta = rec.meta_data
                filled = parse_uint(meta.get("filledMakerAmount", "0"), "filledMakerAmount")
                if rec.status in OPEN_STATUSES:
                    node.book[h] = BookEntry(h, rec.status, filled)
                elif rec.status in NODE_CLOSED_STATUSES:
                    pending = parse_uint(meta.get("pendingMakerAmount", "0"), "pendingMakerAmount")
                    reason = str(meta.get("reason", ""))[:200]
                    at = cancel_count(meta, "cancelledAtBlock")
                    nonce = cancel_count(meta, "cancelledAtNonce")
                    node.closed[h] = ClosedEntry(h, rec.status, reason, filled, pending, at, nonce)
            walked = client.all_fills(
                per_page=PER_PAGE, limit=PER_PAGE * MAX_PAGES, max_pages=MAX_PAGES
            )  # (listed in the order stored: a reorg's fills after; the facts are in chain order)
            node.fills = sorted(walked, key=lambda f: (f.block_number, f.log_index))
        except (NodeUnreachableError, OSError) as e:  # requests' errors are OSErrors
            node.error = str(e) or type(e).__name__
        except (SdexError, ValueError) as e:  # refused a request, or answered off the API
            node.error, node.error_kind = str(e) or type(e).__name__, "node_bad_answer"
    return node, copies


def lookup_orders(url: str, hashes: Sequence[bytes], domain: Domain) -> list[OrderCopy]:
    """``GET /v1/orders/{hash}`` for each hash: the orders the node holds under them."""
    out = []
    with NodeClient(url) as client:
        for h in hashes:
            try:
                rec = client.get_order("0x" + h.hex())
            except NodeApiError:
                continue  # 404: the node never had it
            except (SdexError, OSError):
                break  # unreachable or malformed: reported by the node's own reading
            copy = _copy(rec, url, domain)
            out.append(OrderCopy(copy.signed, url, claimed_hash=h))
    return out


def _copy(rec: OrderRecord, url: str, domain: Domain) -> OrderCopy:
    signed = SignedOrder(rec.order, rec.signature, domain.order_hash(rec.order))
    try:
        claimed = _hash_or_none(rec.order_hash)
    except ValueError:
        raise NodeProtocolError(f"a record's orderHash {rec.order_hash!r} is malformed") from None
    return OrderCopy(signed, url, claimed)


def _wait_synced(
    client: NodeClient, domain: Domain, head: int, timeout: float
) -> tuple[int | None, str | None]:
    """The node's checkpoint block once it reaches ``head`` (or when ``timeout`` is up),
    None when its ``/health`` does not say; and the operator it names. A node that names
    another Exchange is refused."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            health = client.health()
        except NodeApiError as e:
            # A node whose chain is unreachable answers 503, still with its checkpoint.
            if e.status != 503 or not isinstance(e.body, dict):
                return None, None
            health = e.body
        except NodeProtocolError:
            return None, None
        exchange = str(health.get("exchange", domain.verifying_contract)).lower()
        chain_id = health.get("chainId", domain.chain_id)
        if (chain_id, exchange) != (domain.chain_id, domain.verifying_contract):
            raise NodeProtocolError(
                f"the node serves Exchange {exchange} on chain {chain_id}, not the deployment's"
            )
        block = health.get("block")
        if not isinstance(block, int) or isinstance(block, bool):
            return None, operator_of(health)
        if block >= head or time.monotonic() >= deadline:
            return block, operator_of(health)
        time.sleep(0.05)


# -- everything ----------------------------------------------------------------------------


def collect(
    deployment: Deployment,
    nodes: Sequence[str] = (),
    *,
    rpc_url: str | None = None,
    orders: Sequence[OrderCopy] = (),
    sync_timeout: float = 10.0,
    calldata: bool = True,
) -> Facts:
    """Read the chain since the deployment block, the ``nodes`` and their orders; with
    ``calldata``, the signed orders in the settlement transactions' calldata too."""
    rpc = Rpc(rpc_url or deployment.rpc)
    try:
        reader = ChainReader(rpc, deployment)
        with _readable(rpc.url):
            domain = reader.check_identity()
            first_head = reader.head()
        node_facts: list[NodeFacts] = []
        copies = list(orders)
        for url in nodes:
            n, c = read_node(url, domain, first_head, sync_timeout)
            node_facts.append(n)
            copies += c
        with _readable(rpc.url):
            head = reader.head()
            chain = reader.read(domain, deployment.deploy_block, head)
            if calldata or any(n.operator for n in node_facts):
                txs = reader.transactions(list(dict.fromkeys(e.tx_hash for e in chain.fills)))
                chain.senders = {h.lower(): (t.sender, t.nonce) for h, t in txs.items()}
                chain.nonces_at = reader.nonces_at(unnoted_cancels(node_facts), head)
            if calldata:
                found, chain.decoded, chain.undecoded = calldata_orders(txs, chain.fills, domain)
                copies = found + copies
        # Orders of fills that no source listed: ask each node by hash.
        missing = list(dict.fromkeys(e.order_hash for e in chain.fills))
        for n in node_facts:
            known = {c.signed.hash for c in copies}
            missing = [h for h in missing if h not in known]
            if not missing:
                break
            if n.error is None:
                copies += lookup_orders(n.url, missing, domain)
        copies = list(dict.fromkeys(copies))  # a node listing an order twice counts once
        with _readable(rpc.url):
            chain.states = reader.states([c.signed for c in copies], head)
            makers = sorted({c.signed.order.maker for c in copies})
            chain.contracts = reader.contracts(makers, head)
        return Facts(chain=chain, orders=copies, nodes=node_facts)
    finally:
        rpc.close()


@contextlib.contextmanager
def _readable(url: str) -> Iterator[None]:
    """A chain answer that is not what JSON-RPC gives (a log without topics, a block number
    that is not hex, a list that is a string: a broken or hostile endpoint) stops the audit
    with one line and exit 2, as an unreachable chain does: never a traceback (whose exit 1
    would read as "discrepancies found", and ``--json`` would print no JSON)."""
    try:
        yield
    except SdexError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        what = f"{type(e).__name__}: {e}"[:300]
        raise AuditSetupError(
            f"the JSON-RPC endpoint {url} gave an unreadable answer ({what})"
        ) from e
