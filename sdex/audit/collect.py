"""Reading the facts: Exchange logs, receipts, settlement transactions (their calldata holds
the signed orders) and state from the chain (``sdex.audit.chainread``); books and fills from
the nodes; signed orders from files. The only part of the audit that does I/O.

Nodes are read first and the chain after, at a pinned head block: a node's view is then never
newer than the chain's, so a fill that lands during the audit cannot make an honest node look
ahead of the chain; nor behind it: when the Exchange logged anything above the head the nodes
were read at, they are read again at the chain's new head (``READS`` times at most). Before
reading a node, the audit waits (bounded) until its watcher has processed the chain's head,
when its ``/health`` reports a ``block``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sdex import jsonio
from sdex.audit.calldata import calldata_orders
from sdex.audit.chainread import AuditSetupError, ChainReader
from sdex.audit.facts import (
    BookEntry,
    ChainFacts,
    ClosedEntry,
    Facts,
    NodeFacts,
    OrderCopy,
)
from sdex.audit.nodeparse import cancel_count, operator_of, unnoted_cancels
from sdex.chain import Rpc
from sdex.client import (
    NodeApiError,
    NodeClient,
    NodeProtocolError,
    NodeUnreachableError,
    OrderRecord,
)
from sdex.deployment import Deployment
from sdex.errors import OrderParseError, SdexError
from sdex.model import OPEN_STATUSES
from sdex.order import Domain, SignedOrder, parse_hex_bytes, parse_uint, to_checksum

NODE_CLOSED_STATUSES = frozenset({"removed", "cancelled", "dropped", "killed"})
"""Statuses of orders a node closed by its own decision, not because the chain made them
unfillable: an IOC/FOK remainder dropped or killed, a self-trade or settlement-failure
removal, a soft cancel. The chain may still fill such an order; the user was told it is dead.
(The node API reports dropped and killed remainders as ``removed`` with that ``reason``.)"""

READS = 3
"""Times the audit reads the nodes and the chain when the Exchange logged something above the
head the nodes were read at (``moved_since``): a fill that landed between the nodes' read and
the chain's had every honest node shown behind it (chaos63: ``node_keeps_closed_order`` for an
order each node closed a moment later). The last read is reported as it is."""
PER_PAGE = 1000  # the API's maximum
MAX_PAGES = 10_000  # a node that keeps answering "there is more" is refused after these


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
                f"the node serves Exchange {to_checksum(exchange)} on chain {chain_id}, "
                "not the deployment's"
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
            target = reader.head()
        for attempt in range(1, READS + 1):
            node_facts: list[NodeFacts] = []
            copies = list(orders)
            for url in nodes:
                n, c = read_node(url, domain, target, sync_timeout)
                node_facts.append(n)
                copies += c
            with _readable(rpc.url):
                head = reader.head()
                chain = reader.read(domain, deployment.deploy_block, head)
            if not nodes or attempt == READS or not moved_since(chain, target):
                break
            target = head  # (the nodes read again, each synced to the chain's new head)
        with _readable(rpc.url):
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


def moved_since(chain: ChainFacts, block: int) -> bool:
    """Whether the Exchange's record changed after ``block``: a fill or a cancel logged above
    it, or the chain's head below it (rewound)."""
    if chain.head < block:
        return True
    blocks = [e.block_number for e in chain.fills]
    blocks += [e.block_number for e in chain.cancels]
    blocks += [e.block_number for e in chain.salt_cancels]
    return any(b > block for b in blocks)


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
