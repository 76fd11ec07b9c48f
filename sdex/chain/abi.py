"""Contract ABIs from Hardhat artifacts: call encoding, output, event and error decoding.

Encoding goes straight through eth-abi with precomputed selectors, which is what web3's
contract objects do underneath, minus their per-call overhead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

from sdex.chain.receipt import data_of
from sdex.errors import ChainError, ContractRevert, ExchangeError

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "artifacts" / "contracts"


@cache
def _eth_abi() -> tuple[Callable[..., bytes], Callable[..., tuple[Any, ...]], type[Exception]]:
    """eth-abi's ``encode``, ``decode`` and ``DecodingError``, imported at the first use:
    eth-abi pulls in eth-utils and with it pydantic, parsimonious and regex (about half a
    second of CPU), which commands that never touch an ABI (``sdex book``, any ``--help``)
    need not pay at every start."""
    from eth_abi.abi import decode, encode
    from eth_abi.exceptions import DecodingError

    return encode, decode, DecodingError


def encode(types: list[str], args: list[Any]) -> bytes:
    """ABI-encode ``args`` as ``types`` (eth-abi's ``encode``)."""
    return _eth_abi()[0](types, args)


def decode(types: list[str], data: bytes, strict: bool = True) -> tuple[Any, ...]:
    """ABI-decode ``data`` as ``types`` (eth-abi's ``decode``; its ``DecodingError`` for bytes
    that are not them; not ``strict``: padding not checked)."""
    return _eth_abi()[1](types, data, strict=strict)


def decoding_error() -> type[Exception]:
    """eth-abi's ``DecodingError`` (imported at the first use, as ``decode``)."""
    return _eth_abi()[2]


_PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def type_string(param: dict[str, Any]) -> str:
    """The canonical ABI type of a parameter, tuples expanded: ``(address,uint256)[]``."""
    t: str = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(type_string(c) for c in param["components"])
        return f"({inner}){t[len('tuple') :]}"
    return t


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode(list(self.input_types), list(args))

    def decode_answer(self, raw: object) -> tuple[Any, ...]:
        """``decode_output`` of an ``eth_call``'s answer ``raw``: ``ChainError`` for one that
        is not 0x and hex bytes (review67: a lying endpoint's number, null or "0xzz" came out
        of ``raw[2:]`` and ``bytes.fromhex`` as a TypeError or ValueError traceback)."""
        try:
            data = data_of(raw)
        except ValueError:
            raise ChainError(f"{self.name}() answered {str(raw)[:40]!r}, not hex bytes") from None
        return self.decode_output(data)

    def decode_output(self, data: bytes) -> tuple[Any, ...]:
        """The call's outputs; ``ChainError`` for bytes that are not them (an address with no
        code answers an ``eth_call`` with none: a reset devnet, or another chain)."""
        try:
            return tuple(decode(list(self.output_types), data))
        except (_eth_abi()[2], UnicodeDecodeError):  # (a string's bytes no UTF-8: review67)
            if not data:
                raise ChainError(f"{self.name}() answered nothing: no contract there?") from None
            outputs = ",".join(self.output_types)
            raise ChainError(
                f"{self.name}() answered {len(data)} bytes that are not ({outputs})"
            ) from None


@dataclass(frozen=True, slots=True)
class ErrorDef:
    name: str
    selector: bytes
    types: tuple[str, ...]
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventDef:
    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        """Arguments of one log by name (indexed dynamic types stay as their hash)."""
        out: dict[str, Any] = {}
        for (name, t), topic in zip(self.indexed, topics[1:], strict=True):
            static = not (t in ("string", "bytes") or t.endswith("]") or t.startswith("("))
            out[name] = decode([t], topic)[0] if static else topic
        values = decode([t for _, t in self.data], data)
        out.update({name: v for (name, _), v in zip(self.data, values, strict=True)})
        return out


class ContractAbi:
    """One contract's ABI and bytecode, loaded from its Hardhat artifact."""

    def __init__(self, name: str, abi: list[dict[str, Any]], bytecode: bytes) -> None:
        self.name = name
        self.abi = abi
        self.bytecode = bytecode
        self.functions: dict[str, Function] = {}
        self.errors: dict[bytes, ErrorDef] = {}
        self.events: dict[str, EventDef] = {}
        for item in abi:
            kind = item.get("type")
            if kind == "function":
                ins = tuple(type_string(p) for p in item["inputs"])
                outs = tuple(type_string(p) for p in item["outputs"])
                sel = keccak(f"{item['name']}({','.join(ins)})".encode())[:4]
                self.functions[item["name"]] = Function(item["name"], sel, ins, outs)
            elif kind == "error":
                types = tuple(type_string(p) for p in item["inputs"])
                sel = keccak(f"{item['name']}({','.join(types)})".encode())[:4]
                names = tuple(p["name"] or f"arg{i}" for i, p in enumerate(item["inputs"]))
                self.errors[sel] = ErrorDef(item["name"], sel, types, names)
            elif kind == "event":
                types = tuple(type_string(p) for p in item["inputs"])
                topic = keccak(f"{item['name']}({','.join(types)})".encode())
                indexed = tuple(
                    (p["name"], t)
                    for p, t in zip(item["inputs"], types, strict=True)
                    if p["indexed"]
                )
                data = tuple(
                    (p["name"], t)
                    for p, t in zip(item["inputs"], types, strict=True)
                    if not p["indexed"]
                )
                self.events[item["name"]] = EventDef(item["name"], topic, indexed, data)

    @classmethod
    def load(cls, name: str, artifacts_dir: Path = ARTIFACTS_DIR) -> ContractAbi:
        """Load ``artifacts/contracts/**/NAME.sol/NAME.json`` (run ``make compile`` first)."""
        matches = sorted(artifacts_dir.glob(f"**/{name}.sol/{name}.json"))
        if not matches:
            raise FileNotFoundError(
                f"no artifact for {name} under {artifacts_dir}: run `make compile`"
            )
        art = json.loads(matches[0].read_text())
        return cls(name, art["abi"], bytes.fromhex(art["bytecode"][2:]))

    def fn(self, name: str) -> Function:
        return self.functions[name]

    def deploy_data(self, *args: Any) -> bytes:
        ctor = next((i for i in self.abi if i.get("type") == "constructor"), None)
        if ctor is None:
            return self.bytecode
        types = [type_string(p) for p in ctor["inputs"]]
        return self.bytecode + encode(types, list(args))

    @cached_property
    def events_by_topic(self) -> dict[bytes, EventDef]:
        return {e.topic: e for e in self.events.values()}


class ErrorDecoder:
    """Turns revert data into typed errors, knowing the custom errors of several ABIs."""

    def __init__(self, *abis: ContractAbi) -> None:
        self.errors: dict[bytes, ErrorDef] = {}
        for a in abis:
            self.errors.update(a.errors)

    def decode(self, revert: ContractRevert) -> ContractRevert:
        """An ``ExchangeError`` with name and arguments when the selector is known and the
        rest is its arguments; else ``revert`` as it came (dup93: a known selector before bytes
        that are not its arguments, a lying endpoint's, raised eth-abi's ``DecodingError``;
        review95: a string's offset or length past an index raised ``OverflowError``, out of a
        read, or of a token's revert in a batch's ``MatchSkipped``: its receipt then never
        believed, ``sdex.settlement.outcome.unaccounted``)."""
        try:
            return self._decoded(revert)
        except (_eth_abi()[2], UnicodeDecodeError, OverflowError):  # (UTF-8: review67)
            return revert

    def _decoded(self, revert: ContractRevert) -> ContractRevert:
        data = revert.data
        sel, body = data[:4], data[4:]
        if sel == bytes.fromhex("08c379a0"):  # Error(string)
            (msg,) = decode(["string"], body)
            return ExchangeError(data, "Error", {"message": msg})
        if sel == bytes.fromhex("4e487b71"):  # Panic(uint256)
            (code,) = decode(["uint256"], body)
            return ExchangeError(
                data, "Panic", {"code": code, "reason": _PANIC_REASONS.get(code, "")}
            )
        err = self.errors.get(sel)
        if err is None:
            return revert
        values = decode(list(err.types), body)
        return ExchangeError(data, err.name, dict(zip(err.names, values, strict=True)))
