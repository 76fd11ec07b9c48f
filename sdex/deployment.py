"""The deployment file (PRODUCT.md section 4): where the Exchange and tokens live, dev keys.

``Deployment.load`` refuses a file it cannot use with one ``DeploymentError`` (an
``SdexError`` and a ``ValueError``) that names the file and the field at fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sdex import jsonio, localfile
from sdex.errors import SdexError
from sdex.orderparse import to_checksum
from sdex.signature import SECP256K1_N, address_of

DEVNET_CHAIN_IDS = (31337, 1337)
"""Chain ids of local development chains (Hardhat, anvil; geth --dev, ganache): the only
chains whose keys a node may hand out (``--dev-wallets``), and the only ones the watcher
rewinds or resets for answering from behind a while (``sdex.watch.fork.behind_for``)."""

DEFAULT_PATH = Path(".sdex/devnet.json")
DEMO_PATH = Path(".sdex/demo/devnet.json")
"""Where ``make demo`` (``sdex demo``, its default ``--log-dir``) writes its deployment."""
MAX_FILE_BYTES = 1 << 20  # a deployment file is a few kB; a larger one is not one
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_KEY_RE = re.compile(r"0x[0-9a-fA-F]{64}\Z")

T = TypeVar("T")


MAX_SYMBOL = 32
"""Characters of a token symbol (a wallet prints it on the user's terminal)."""
SYMBOL = re.compile(rf"[A-Za-z0-9._+-]{{1,{MAX_SYMBOL}}}")
"""A token symbol: ASCII letters, digits and ``. _ + -`` (``USDC.e``, ``1INCH``). Not any
printable character: a look-alike (``USD\u0421``, a Cyrillic Es for the C) shows as the
symbol it imitates while it names another token (wallet69); nor a space or a ``/`` (the pair's
separator)."""


def symbols_fault(symbols: Iterable[str]) -> str | None:
    """What makes a listing of these token symbols unfit for a wallet, or None: each must be a
    ``SYMBOL``, and no two alike but for case (a wallet reads a typed symbol without case: a
    node listing ``usdc`` beside ``USDC`` had ``--pair WETH/USDC`` take whichever came first)."""
    seen: dict[str, str] = {}
    for sym in symbols:
        if not SYMBOL.fullmatch(sym):
            return f"a token symbol that is {_not_a_symbol(sym)}"
        if (other := seen.setdefault(sym.upper(), sym)) != sym:
            return f"the token symbols {_alike(other, sym)}"
    return None


_RULE = (
    "letters, digits and . _ + - only: a look-alike character can pass a fake token off as "
    "a known one"
)


def _not_a_symbol(sym: str) -> str:
    return f"not a short ASCII name: {ascii(sym)[:60]} ({_RULE})"  # (ascii: review67, ESC...)


def _alike(one: str, other: str) -> str:
    return (
        f"{one!r} and {other!r}: one name to a wallet, which reads symbols without case, for "
        "two tokens"
    )


def symbol_faults(symbols: Iterable[str]) -> tuple[set[str], list[str]]:
    """The symbols among these a wallet cannot use, and why, a line each (``symbols_fault``'s
    reasons): every symbol that is not a ``SYMBOL``, and all of two or more alike but for case
    (none of them can be named apart)."""
    unfit: set[str] = set()
    said: list[str] = []
    seen: dict[str, str] = {}
    for sym in symbols:
        if not SYMBOL.fullmatch(sym):
            unfit.add(sym)
            said.append(f"the token symbol {ascii(sym)[:60]} is not a short ASCII name ({_RULE})")
        elif (other := seen.setdefault(sym.upper(), sym)) != sym:
            unfit |= {sym, other}
            said.append(f"the token symbols {_alike(other, sym)}")
    return unfit, said


class DeploymentError(SdexError, ValueError):
    """A deployment file that is missing, unreadable, not JSON or lacks a field."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str
    decimals: int
    min_amount: int = 0
    """The least an order may sell or ask for of it, in base units: a node's (its
    ``order_config``'s ``minAmount``), or in a deployment file the default of the nodes on
    it (``sdex devnet`` writes one per token; 0: none known)."""


@dataclass(frozen=True, slots=True)
class DevAccount:
    address: str
    key: str  # 0x-hex private key


# The names ``sdex demo`` trades accounts[1], accounts[2], ... as; its nodes run on the last
# three accounts (``sdex devnet``'s summary offers the last two as operator keys).
DEMO_TRADERS = ("alice", "bob", "carol", "dave", "erin", "frank")
OPERATOR_ACCOUNTS = 3


def traded_account(accounts: Sequence[DevAccount], key: bytes) -> str | None:
    """The dev account ``key`` is, named (``accounts[1] 0xAbC… (the demo's alice)``), if it
    is one wallets trade with: any but the last ``OPERATOR_ACCOUNTS`` (ux49: ``sdex node``
    started on alice's key said nothing, while the README says not to run a node on a
    trading wallet: its settlements and that wallet's own transactions share one nonce)."""
    if len(accounts) <= OPERATOR_ACCOUNTS:
        return None
    address = address_of(key).lower()
    for i, a in enumerate(accounts[:-OPERATOR_ACCOUNTS]):
        if a.address == address:
            name = f" (the demo's {DEMO_TRADERS[i - 1]})" if 0 < i <= len(DEMO_TRADERS) else ""
            return f"accounts[{i}] {to_checksum(a.address)}{name}"
    return None


@dataclass(frozen=True, slots=True)
class Deployment:
    chain_id: int
    rpc: str
    exchange: str
    deploy_block: int
    tokens: dict[str, TokenInfo]
    accounts: list[DevAccount] = field(default_factory=list)
    refused: tuple[str, ...] = ()
    """The file's tokens left out of ``tokens`` for their symbols (``symbol_faults``), each
    said in a line: a node on the file lists the rest (wallet74: one such symbol stopped
    ``sdex node`` outright, every other market with it)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "rpc": self.rpc,
            "exchange": self.exchange,
            "deployBlock": self.deploy_block,
            "tokens": {s: _token_json(t) for s, t in self.tokens.items()},
            "accounts": [{"address": a.address, "key": a.key} for a in self.accounts],
        }

    @classmethod
    def from_json(cls, obj: object) -> Deployment:
        """Parse a deployment JSON; ``DeploymentError`` names the first field at fault."""
        if not isinstance(obj, dict):
            raise DeploymentError("is not a JSON object")
        o: dict[str, Any] = obj
        chain_id = _field(o, "chainId", _below(1 << 256))
        rpc = _field(o, "rpc", _url)
        exchange = _field(o, "exchange", _address)
        deploy_block = _field(o, "deployBlock", _below(1 << 63))
        tokens = _field(o, "tokens", lambda raw: _object(raw, "tokens"))
        # (a node listing one: every wallet refuses the node; a file of only such: refused)
        unfit, said = symbol_faults(tokens)
        if unfit and len(tokens) - len(unfit) < 2:
            raise DeploymentError(
                f"has a bad 'tokens': it lists {symbols_fault(tokens)}, and not two tokens "
                "whose symbols a wallet can use"
            )
        tokens = {s: t for s, t in tokens.items() if s not in unfit}
        accounts = o.get("accounts", [])
        if not isinstance(accounts, list):
            raise DeploymentError("has a bad 'accounts': not a list")
        return cls(
            chain_id=chain_id,
            rpc=rpc,
            exchange=exchange,
            deploy_block=deploy_block,
            tokens={
                str(s): TokenInfo(
                    _field(_object(t, f"tokens.{s}"), "address", _address, f"tokens.{s}."),
                    _field(_object(t, f"tokens.{s}"), "decimals", _below(78), f"tokens.{s}."),
                    # (optional: the default minimum order size of nodes on this deployment)
                    _field({"minAmount": "0", **t}, "minAmount", _min_amount, f"tokens.{s}."),
                )
                for s, t in tokens.items()
            },
            accounts=[_account(a, i) for i, a in enumerate(accounts)],
            refused=tuple(said),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)  # atomic: a reader never sees half a file

    @classmethod
    def load(cls, path: Path) -> Deployment:
        """Read a deployment file; ``DeploymentError`` names the file and what is wrong."""
        path = Path(path)
        try:  # (never blocks: a FIFO there hung every command that reads it, wallet80)
            raw = localfile.read_bounded(path, MAX_FILE_BYTES)
        except localfile.LocalFileError as e:
            if e.missing:
                raise DeploymentError(
                    f"no deployment file at {path}: start `sdex devnet` or pass --deployment "
                    "PATH" + _demo_hint(path)
                ) from None
            raise DeploymentError(f"cannot use the deployment file {path}: {e}") from None
        try:
            obj = jsonio.loads(raw, max_bytes=MAX_FILE_BYTES, max_depth=8, floats=True)
        except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
            raise DeploymentError(f"the deployment file {path} is not JSON: {e}") from None
        try:
            return cls.from_json(obj)
        except DeploymentError as e:
            raise DeploymentError(f"the deployment file {path} {e}") from None

    def token(self, symbol: str) -> TokenInfo:
        """The token listed as ``symbol``, without case (review70: upper-cased, a listed
        ``USDC.e`` was not found under any spelling)."""
        wanted = symbol.upper()
        for sym, info in self.tokens.items():
            if sym.upper() == wanted:
                return info
        raise KeyError(f"token {symbol!r} is not in the deployment ({', '.join(self.tokens)})")

    def symbol_of(self, address: str) -> str | None:
        address = address.lower()
        return next((s for s, t in self.tokens.items() if t.address == address), None)


def _object(raw: object, name: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DeploymentError(f"has a bad {name!r}: not a JSON object")
    return raw


def _field(obj: dict[str, Any], name: str, parse: Callable[[Any], T], prefix: str = "") -> T:
    """``obj[name]`` parsed; a missing or malformed field is a ``DeploymentError``."""
    if name not in obj:
        raise DeploymentError(f"lacks the field {prefix + name!r}")
    try:
        return parse(obj[name])
    except (TypeError, ValueError) as e:
        raise DeploymentError(f"has a bad {prefix + name!r}: {e}") from None


def _uint(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TypeError(f"{str(raw)[:40]!r} is not an integer")
    value = int(raw)
    if value < 0:
        raise ValueError(f"{value} is negative")
    return value


def _below(bound: int) -> Callable[[Any], int]:
    """``_uint`` below ``bound`` (review83: a token's decimals of 5,000 made the node's
    default minimum 10^4988, every ``order_config`` a 500; 78 or more, every wallet refuses
    the node; a deploy block past 2^63 is past the store's, a chain id past 2^256 no
    EIP-712 domain's)."""

    def parse(raw: Any) -> int:
        value = _uint(raw)
        if value >= bound:
            raise ValueError(
                f"{str(value)[:40]} is not below {bound if bound < 100 else hex(bound)}"
            )
        return value

    return parse


def _min_amount(raw: Any) -> int:
    text = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if 0 < len(text) <= 78 and text.isascii() and text.isdigit():  # (not "١٢٣", read as 123)
        if int(text) > 2**255:
            raise ValueError(f"{text[:40]}... is too large")
        return int(text)
    raise ValueError(f"{str(raw)[:40]!r} is not a whole number of base units")


def _token_json(t: TokenInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"address": t.address, "decimals": t.decimals}
    if t.min_amount:
        out["minAmount"] = str(t.min_amount)  # (base units, as order_config says it)
    return out


def _address(raw: Any) -> str:
    if not isinstance(raw, str) or not _ADDRESS_RE.match(raw):
        raise ValueError(f"{str(raw)[:50]!r} is not a 0x address")
    return raw.lower()


def _account(raw: object, i: int) -> DevAccount:
    """A dev account whose ``key`` is a private key and the key of its ``address`` (an address
    or junk saved as a key reached the page's dev wallets and the demo: user28)."""
    obj = _object(raw, f"accounts[{i}]")
    address = _field(obj, "address", _address, f"accounts[{i}].")
    key = _field(obj, "key", _private_key, f"accounts[{i}].")
    derived = address_of(bytes.fromhex(key[2:]))
    if derived.lower() != address:
        raise DeploymentError(
            f"has a bad 'accounts[{i}].key': it is the key of {to_checksum(derived)}, not of "
            f"accounts[{i}].address {to_checksum(address)}"
        )
    return DevAccount(address, key)


def _private_key(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"{str(raw)[:40]!r} is not a string")
    if _ADDRESS_RE.match(raw):
        raise ValueError("that is an address (20 bytes), not a private key")
    if not _KEY_RE.match(raw):
        raise ValueError("not a private key (0x and 64 hex digits)")
    if not 0 < int(raw, 16) < SECP256K1_N:
        raise ValueError("not a valid secp256k1 private key (0 or >= n)")
    return raw.lower()


def _url(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.startswith(("http://", "https://")):
        raise ValueError(f"{str(raw)[:50]!r} is not an http(s) URL")
    return raw


def _demo_hint(missing: Path) -> str:
    """The demo's deployment, when it is there and not the one asked for (user44: after
    ``make demo KEEP=1`` the README's ``--deployment .sdex/devnet.json`` found nothing, and
    the error did not say where the running demo's file is)."""
    if DEMO_PATH.is_file() and missing.resolve() != DEMO_PATH.resolve():
        return f" (`make demo KEEP=1` writes its network's to {DEMO_PATH}, while it runs)"
    return ""
