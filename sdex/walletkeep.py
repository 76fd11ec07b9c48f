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
signature recover to its maker. Every read is bounded and never blocks (``sdex.localfile``:
a FIFO, a device, a directory or a link at an order's name is refused in words, wallet80).

The kept orders are bounded (wallet80: they were never removed): each one written prunes,
past ``MAX_KEPT``, the oldest signed, and those expired an hour (``EXPIRED_FOR``) among the
``MAX_READS`` old files it reads; a cancel (``sdex cancel``, the console's ``cancel``, also
one the node keeps for an order it does not hold) forgets its order (``forget``)."""

from __future__ import annotations

import bisect
import contextlib
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sdex import jsonio, localfile
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
MAX_KEPT = 1000
"""Orders kept at most: past it, each new one's writing removes the oldest written (wallet80:
they were never removed; 1,000 files of under 2 kB each)."""
EXPIRED_FOR = 3600
"""Seconds past its expiry, by this machine's clock, after which a kept order is removed on
the next one's writing: no node takes it any more (the chain's clock may lag this one's)."""
MAX_SCAN = 4 * MAX_KEPT
"""Directory entries a pruning looks at most (a directory filled with other files is not
read without end)."""
MAX_READS = 16
"""Kept files written over ``EXPIRED_FOR`` ago that a pruning reads at most for their expiry
(user81: once every kept order was that old, each order kept read all 1,000): those whose
names follow the new order's (hashes are spread evenly, so each is read about once in
``n / MAX_READS`` writes). The bound of ``MAX_KEPT`` does not wait on them."""
_KEPT_NAME = re.compile(r"0x[0-9a-f]{64}\.json")
_TEMP_NAME = re.compile(r"\.0x[0-9a-f]{64}\.json\..*\.tmp")


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
    it cannot be (the caller says so and posts it anyway). The kept orders are then pruned
    (``prune``): those expired an hour, and the oldest past ``MAX_KEPT``."""
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
    # (a name of its own, made exclusively: a FIFO planted at a guessable name blocked it)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(jsonio.dumps_bytes(body))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    with contextlib.suppress(OSError):  # (pruning is housekeeping: the order is kept)
        prune(path.parent, keep=path.name)
    return path


def prune(orders: Path, keep: str = "", now: int | None = None) -> list[str]:
    """The kept orders in ``orders`` that can go removed: those expired ``EXPIRED_FOR``
    seconds ago, then the oldest written past ``MAX_KEPT`` (never ``keep``, the one just
    written), and temporary files left an hour; the names removed. Only the wallet's own
    files go: a regular file named for its order's hash whose content says that hash; any
    other entry (a link, a FIFO, a directory, a file that is not a kept order) is left as it
    is (a regular file at an order's name is counted toward the bound until it is read).

    A file is read only when it may go: written over ``EXPIRED_FOR`` ago (an order expires
    after it is signed, so a younger file holds none expired an hour; of those, ``MAX_READS``
    at most, the ones whose names follow ``keep``'s), or among the oldest past the bound; the
    rest cost a ``stat`` (reading all 1,000 took 110-310 ms a write on this loaded machine)."""
    now = int(time.time()) if now is None else now
    by_age: list[tuple[int, str]] = []
    old: list[str] = []  # (written over ``EXPIRED_FOR`` ago: may be expired that long)
    gone: list[str] = []
    with os.scandir(orders) as entries:
        for i, entry in enumerate(entries):
            if i >= MAX_SCAN:
                break
            if not entry.is_file(follow_symlinks=False):
                continue
            written = entry.stat(follow_symlinks=False).st_mtime_ns
            aged = written < (now - EXPIRED_FOR) * 10**9
            if _TEMP_NAME.fullmatch(entry.name):
                if aged:
                    gone.append(entry.name)
                continue
            if not _KEPT_NAME.fullmatch(entry.name) or entry.name == keep:
                continue
            if aged:  # (else it cannot be expired an hour yet)
                old.append(entry.name)
            by_age.append((written, entry.name))
    old.sort()
    at = bisect.bisect_right(old, keep)  # (the next ones after the order just kept, round)
    left: set[str] = set()  # (gone, or read and not the wallet's: not counted)
    for name in (old[at:] + old[:at])[:MAX_READS]:
        expiry = _expiry(orders / name, name.removesuffix(".json"))
        if expiry is None or expiry + EXPIRED_FOR < now:
            left.add(name)
            if expiry is not None:
                gone.append(name)
    by_age = sorted(a for a in by_age if a[1] not in left)
    over = len(by_age) + (1 if keep else 0) - MAX_KEPT
    for _, name in by_age:
        if over <= 0:
            break
        over -= 1  # (one gone, or one that is not the wallet's counted in error)
        if _expiry(orders / name, name.removesuffix(".json")) is not None:
            gone.append(name)
    for name in gone:
        with contextlib.suppress(FileNotFoundError):
            (orders / name).unlink()
    return gone


def _expiry(path: Path, order_hash: str) -> int | None:
    """A kept order's expiry, its file read as ``load`` reads it (bounded, no link followed);
    None if it is not a kept order of that hash."""
    try:
        raw = localfile.read_bounded(path, MAX_FILE, links=False)
        obj = jsonio.loads(raw, max_bytes=MAX_FILE, max_depth=4)
    except (localfile.LocalFileError, ValueError):
        return None
    order = obj.get("order") if isinstance(obj, dict) else None
    if not isinstance(order, dict) or obj.get("orderHash") != order_hash:
        return None
    expiry = order.get("expiry")
    if not (isinstance(expiry, str) and expiry.isascii() and expiry.isdigit()):
        return None
    return int(expiry) if len(expiry) <= 20 else None  # (a uint64)


def forget(order_hash: str) -> bool:
    """The kept order ``order_hash`` removed, once it is cancelled (``sdex cancel``): posted
    again to a node that never saw the cancel, a soft-cancelled order would trade again.
    Only a regular file goes (a link or anything else at its name is left); whether one
    went."""
    path = kept_path(order_hash)
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        path.unlink()
    except OSError:
        return False
    return True


def load(order_hash: str) -> Kept:
    """The order kept under ``order_hash`` (``0x`` and 64 hex digits); ``KeptOrderError``
    naming the file and what is wrong with it."""
    path = kept_path(order_hash)
    try:  # (bounded, no link followed, never blocking on a FIFO: wallet80)
        raw = localfile.read_bounded(path, MAX_FILE, links=False)
    except localfile.LocalFileError as e:
        if e.missing:
            raise KeptOrderError(
                f"no order {order_hash} is kept in {path.parent} (`sdex order` and the console "
                "keep each order they sign there before posting it, until it is cancelled, an "
                f"hour past its expiry or the oldest of over {MAX_KEPT}; ${WALLET_DIR_ENV} names "
                "another directory): only an order this wallet signed here can be posted again"
            ) from None
        raise KeptOrderError(f"the kept order {path} cannot be used: {e}") from None
    try:
        return _parsed(raw, order_hash, path)
    except (KeptOrderError, JsonLimitError, OrderParseError, SignatureError, ValueError) as e:
        why = str(e)[:MAX_TEXT]
        raise KeptOrderError(f"the kept order {path} cannot be used: {why}") from None


def _parsed(raw: bytes, order_hash: str, path: Path) -> Kept:
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
