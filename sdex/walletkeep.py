"""Orders the wallet signed, kept on this machine before they are posted (``sdex order``, the
console's ``send_order``), so that one whose answer was lost, or that a node dropped (one
restarted without its database, or on another machine), can be posted again as it was
signed: ``sdex repost HASH`` (``sdex.walletrepost``; wallet79: there was no way to, and a new
``sdex order`` signs another order, with a new salt).

One file per order, ``<dir>/orders/<hash>.json``, ``<dir>`` being ``$SDEX_WALLET_DIR`` or
``~/.sdex/wallet``, written whole (a temporary file, flushed, renamed) before the POST: the
signed order as the API takes it, its EIP-712 domain (chain id, Exchange), its time in force,
its market and side, and the node it went to. A signature is no secret (every node it reaches
holds it), so the file is the user's like any other. A file read back is bounded (size, depth)
and held to what it says: its order must hash to the hash asked for in its domain, and its
signature recover to its maker."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sdex import jsonio
from sdex.errors import JsonLimitError, OrderParseError, SdexError, SignatureError
from sdex.order import Domain, SignedOrder
from sdex.orderparse import parse_address
from sdex.signature import recover_signer
from sdex.wallet import Side

WALLET_DIR_ENV = "SDEX_WALLET_DIR"
DEFAULT_DIR = Path("~/.sdex/wallet")
MAX_FILE = 16 * 1024
"""Bytes a kept order's file holds at most (one is under 2 kB)."""
MAX_TEXT = 200
"""Characters of a kept file's free text (its pair, its node's URL) read at most."""
TIME_IN_FORCE = ("gtc", "ioc", "fok")


class KeptOrderError(SdexError):
    """No order is kept under that hash, or its file cannot be used."""


@dataclass(frozen=True, slots=True)
class Kept:
    """An order as the wallet signed it, read back from its file."""

    signed: SignedOrder
    domain: Domain
    tif: str
    pair: str
    side: Side
    node: str
    signed_at: int
    path: Path


def wallet_dir() -> Path:
    """Where the wallet keeps what it signed: ``$SDEX_WALLET_DIR``, else ``~/.sdex/wallet``;
    ``OSError`` when neither can be said (no home directory known)."""
    try:
        return Path(os.environ.get(WALLET_DIR_ENV) or DEFAULT_DIR).expanduser()
    except RuntimeError as e:  # (no $HOME and no password entry)
        raise OSError(f"{e}: set ${WALLET_DIR_ENV} to a directory to keep orders in") from None


def kept_path(order_hash: str) -> Path:
    return wallet_dir() / "orders" / f"{order_hash.lower()}.json"


def keep(
    signed: SignedOrder, domain: Domain, tif: str, pair: str, side: Side, node_url: str
) -> Path:
    """``signed`` written to its file, whole, before it is posted; its path. ``OSError`` when
    it cannot be (the caller says so and posts it anyway)."""
    path = kept_path(signed.hash_hex)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "orderHash": signed.hash_hex,
        "order": signed.to_json(),
        "timeInForce": tif,
        "chainId": domain.chain_id,
        "exchange": domain.verifying_contract,
        "pair": pair,
        "side": side.value,
        "node": node_url,
        "signedAt": int(time.time()),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(jsonio.dumps_bytes(body))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path


def load(order_hash: str) -> Kept:
    """The order kept under ``order_hash`` (``0x`` and 64 hex digits); ``KeptOrderError``
    naming the file and what is wrong with it."""
    path = kept_path(order_hash)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE + 1)
    except FileNotFoundError:
        raise KeptOrderError(
            f"no order {order_hash} is kept in {path.parent} (`sdex order` and the console keep "
            f"each order they sign there before posting it; ${WALLET_DIR_ENV} names another "
            "directory): only an order this wallet signed here can be posted again"
        ) from None
    except OSError as e:
        raise KeptOrderError(f"cannot read the kept order {path}: {e.strerror or e}") from None
    try:
        return _parsed(raw, order_hash, path)
    except (KeptOrderError, JsonLimitError, OrderParseError, SignatureError, ValueError) as e:
        why = str(e)[:MAX_TEXT]
        raise KeptOrderError(f"the kept order {path} cannot be used: {why}") from None


def _parsed(raw: bytes, order_hash: str, path: Path) -> Kept:
    if len(raw) > MAX_FILE:
        raise KeptOrderError(f"it is over {MAX_FILE} bytes, not one order")
    obj = jsonio.loads(raw, max_bytes=MAX_FILE, max_depth=4)
    if not isinstance(obj, dict):
        raise KeptOrderError("it is not a JSON object")
    chain_id = obj.get("chainId")
    if type(chain_id) is not int or not 0 < chain_id < 2**64:
        raise KeptOrderError(f"its chainId is not a chain id: {str(chain_id)[:40]!r}")
    domain = Domain(chain_id, parse_address(obj.get("exchange"), "exchange"))
    signed = SignedOrder.from_json(obj.get("order"), domain)
    if signed.hash_hex != order_hash.lower():
        raise KeptOrderError(f"its order hashes to {signed.hash_hex}, not to {order_hash}")
    if recover_signer(signed.hash, signed.signature) != signed.order.maker:
        raise KeptOrderError("its signature is not its maker's")
    tif, side = obj.get("timeInForce"), obj.get("side")
    if tif not in TIME_IN_FORCE:
        raise KeptOrderError(f"its timeInForce is not one of {', '.join(TIME_IN_FORCE)}")
    if side not in [s.value for s in Side]:
        raise KeptOrderError("its side is not buy or sell")
    signed_at = obj.get("signedAt")
    return Kept(
        signed, domain, str(tif), _text(obj, "pair"), Side(side), _text(obj, "node"),
        signed_at if type(signed_at) is int else 0, path,
    )  # fmt: skip


def _text(obj: dict[str, object], name: str) -> str:
    raw = obj.get(name)
    if not isinstance(raw, str) or not raw.isprintable() or len(raw) > MAX_TEXT:
        raise KeptOrderError(f"its {name} is not a short line of text")
    return raw
