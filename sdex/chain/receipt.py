"""What the chain answers of a transaction: a receipt and its logs (``eth_getLogs``'s too),
each read with its checks (``sdex.chain.tx`` sends the transactions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class Log(NamedTuple):
    """One log of a receipt or ``eth_getLogs`` (a named tuple: built ~8x faster than a
    frozen dataclass, and a settlement's receipt holds several logs a match)."""

    address: str
    topics: list[bytes]
    data: bytes
    block_number: int
    tx_hash: str
    log_index: int

    @classmethod
    def from_rpc(cls, raw: dict[str, Any]) -> Log:
        """Raises ValueError (or KeyError, TypeError) for a log that is not one: its block
        number and index are below 2^63 and its transaction hash is 32 bytes of hex (what the
        store can keep)."""
        block_number, log_index = int(raw["blockNumber"], 16), int(raw["logIndex"], 16)
        tx_hash = raw["transactionHash"]
        if not (0 <= block_number < 1 << 63 and 0 <= log_index < 1 << 63):
            raise ValueError(f"a log at block {block_number}, index {log_index}")
        if type(tx_hash) is not str or not _HASH.fullmatch(tx_hash):
            raise ValueError(f"a log of transaction {str(tx_hash)[:80]!r}")
        return cls(
            address=raw["address"].lower(),
            topics=topics_of(raw["topics"]),
            data=data_of(raw["data"]),
            block_number=block_number,
            tx_hash=tx_hash,
            log_index=log_index,
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_hash: str
    status: int
    block_number: int
    block_hash: str
    gas_used: int
    logs: list[Log]
    contract_address: str | None

    @classmethod
    def from_rpc(cls, raw: dict[str, Any]) -> Receipt:
        """Raises ValueError for an answer that is not a receipt (whatever is wrong in it:
        callers read a receipt again on ValueError)."""
        try:
            tx_hash, block_hash = raw["transactionHash"], raw.get("blockHash") or ""
            contract = raw.get("contractAddress") or None
            # (review27: each as a chain gives it, or no receipt: a contract address that was
            # a number raised AttributeError out of ``deployed``)
            if type(tx_hash) is not str or not _HASH.fullmatch(tx_hash):
                raise ValueError(f"not a receipt: transaction {str(tx_hash)[:80]!r}")
            if block_hash and (type(block_hash) is not str or not _HASH.fullmatch(block_hash)):
                raise ValueError(f"not a receipt: block hash {str(block_hash)[:80]!r}")
            if contract is not None and (
                type(contract) is not str or not _ADDRESS.fullmatch(contract)
            ):
                raise ValueError(f"not a receipt: contract address {str(contract)[:80]!r}")
            status, number, gas = (_word(raw[k], k) for k in ("status", "blockNumber", "gasUsed"))
            if status not in (0, 1):  # (EIP-658: 1 success, 0 failure)
                raise ValueError(f"not a receipt: status {status}")
            return cls(
                tx_hash=tx_hash,
                status=status,
                block_number=number,
                block_hash=block_hash.lower(),
                gas_used=gas,
                logs=logs_from_rpc(raw["logs"]),
                contract_address=contract,
            )
        except (KeyError, TypeError, AttributeError, IndexError) as e:
            raise ValueError(f"not a receipt: {type(e).__name__}: {e}"[:300]) from e


_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,16}")  # (not int()'s "0x_1" or " 0x1 ")


def _word(raw: object, name: str) -> int:
    """A receipt's quantity below 2^63, what the store and the watcher hold (review28: a
    block number or gas of thousands of hex digits was taken as given); ValueError else."""
    if type(raw) is not str or _QUANTITY.fullmatch(raw) is None:
        raise ValueError(f"not a receipt: {name} {str(raw)[:80]!r}")
    value = int(raw, 16)
    if value >= 1 << 63:
        raise ValueError(f"not a receipt: {name} {raw}")
    return value


def topics_of(raw: object) -> list[bytes]:
    """A log's topics: at most four words of 32 bytes (the EVM's LOG0..LOG4); ValueError for
    anything else (review23: a hostile chain's 5-byte topic was taken as an order hash;
    settle48: ``bytes.fromhex`` skips whitespace, so 66 characters with two spaces were a
    31-byte topic: the bytes' length is checked too)."""
    if type(raw) is not list or len(raw) > 4:
        raise ValueError(f"a log's topics are {str(raw)[:80]!r}")
    topics = []
    for t in raw:
        if type(t) is not str or len(t) != 66 or t[:2] != "0x" or len(b := _hex(t[2:])) != 32:
            raise ValueError(f"a log topic {str(t)[:80]!r}")
        topics.append(b)
    return topics


def data_of(raw: object) -> bytes:
    """A log's data: 0x and two hex digits a byte, nothing else (``bytes.fromhex`` alone
    skips whitespace, and ``[2:]`` alone dropped any two first characters); ValueError."""
    if type(raw) is not str or raw[:2] != "0x" or 2 * len(b := _hex(raw[2:])) != len(raw) - 2:
        raise ValueError(f"a log's data {str(raw)[:80]!r}")
    return b


_hex = bytes.fromhex


def logs_from_rpc(raws: list[dict[str, Any]]) -> list[Log]:
    """``Log.from_rpc`` of each of ``raws`` (the same checks: a log one refuses, the other
    does, though a log with two faults may raise another exception), with what the logs of
    one receipt or block share (block number, transaction hash, address) parsed and checked
    once for each distinct text, not once a log: a settlement's receipt holds ~6 logs a
    match, of one block, one transaction and three addresses; its ~20 topics a match are
    mostly the two events' signatures and the makers' addresses (anvil50)."""
    blocks: dict[object, int] = {}
    txs: dict[object, str] = {}
    addresses: dict[object, str] = {}
    words: dict[str, bytes] = {}  # (each topic's text checked and read once: see below)
    out = []
    new_log = tuple.__new__  # (a ``Log`` made as its tuple: no Python ``__new__`` a log)
    hex_ = _hex
    for raw in raws:
        b, tx, a = raw["blockNumber"], raw["transactionHash"], raw["address"]
        block_number = blocks.get(b) if type(b) is str else None
        tx_hash = txs.get(tx) if type(tx) is str else None
        address = addresses.get(a) if type(a) is str else None
        if block_number is None or tx_hash is None or address is None:
            log = Log.from_rpc(raw)  # (its checks, once for each new text)
            blocks[b], txs[tx], addresses[a] = log.block_number, log.tx_hash, log.address
            out.append(log)
            continue
        log_index = int(raw["logIndex"], 16)
        if not 0 <= log_index < 1 << 63:
            raise ValueError(f"a log at block {block_number}, index {log_index}")
        # (``_topics_seen`` and ``data_of`` written out: the same checks, no call a log)
        ts = raw["topics"]
        if type(ts) is not list or len(ts) > 4:
            topics = topics_of(ts)  # (its error)
        else:
            topics = []
            for t in ts:
                w = words.get(t) if type(t) is str else None
                if w is None:  # (``topics_of``'s check of one topic, then its error)
                    if (
                        type(t) is str
                        and len(t) == 66
                        and t[:2] == "0x"
                        and len(b := hex_(t[2:])) == 32
                    ):
                        w = b
                    else:
                        w = topics_of([t])[0]
                    words[t] = w
                topics.append(w)
        d = raw["data"]
        if type(d) is not str or d[:2] != "0x" or 2 * len(data := hex_(d[2:])) != len(d) - 2:
            data = data_of(d)  # (its error)
        out.append(new_log(Log, (address, topics, data, block_number, tx_hash, log_index)))
    return out
