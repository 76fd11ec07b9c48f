"""wallet80: the files the wallet and its node read (a kept order, the deployment file, the
node's key file, the console's history) held hostile: a FIFO at the path blocked the read for
ever (``sdex repost`` never returned), a device was read without end, a directory or a link
said words naming no file. Each bad file is now one error naming the file and what it is,
within a bound of time, and nothing on disk is changed.

Each reader runs in a thread joined with a bound: a read that blocks fails the test (and is
freed afterwards by opening the FIFO's other end). Before the fix, of the 25 cases here
but the history's, 20 failed: the FIFOs hung the kept order's and the key file's reads (and
``sdex repost`` past its 60 s bound), a device or a directory was said as no deployment file,
a huge key file as no key, links were followed; the history's FIFO hung the whole
interpreter (readline holds the GIL in its blocking open)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from sdex.deployment import Deployment, DeploymentError, TokenInfo
from sdex.gossip import NodeKey
from sdex.order import Domain, Order, random_salt, sign_order
from sdex.wallet import Side
from sdex.walletkeep import KeptOrderError, keep, kept_path, load
from tests.conftest import Chain

ROOT = Path(__file__).resolve().parents[1]
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
DOMAIN = Domain(31337, "0x" + "12" * 20)
BOUND = 60.0
"""Seconds a read may take before it counts as hung (generous: a loaded machine)."""


def signed_order(expiry: int | None = None) -> Order:
    from sdex.order import address_of

    return Order(
        address_of(KEY), "0x" + "00" * 20, "0x" + "aa" * 20, "0x" + "bb" * 20, 10**18,
        2000 * 10**6, "0x" + "00" * 20, 0, expiry or int(time.time()) + 3600, random_salt(),
    )  # fmt: skip


def keep_one(expiry: int | None = None) -> str:
    signed = sign_order(signed_order(expiry), DOMAIN, KEY)
    keep(signed, DOMAIN, "gtc", "WETH/USDC", Side.SELL, "http://127.0.0.1:8001")
    return signed.hash_hex


@dataclass(frozen=True)
class Reader:
    """A file a command reads: ``make`` writes a good one and returns its path and a read of
    it; ``follows``: whether a symbolic link there is followed (else refused)."""

    make: Callable[[Path], tuple[Path, Callable[[], object]]]
    error: type[Exception]
    follows: bool
    json: bool


def _kept(tmp: Path) -> tuple[Path, Callable[[], object]]:
    order_hash = keep_one()
    return kept_path(order_hash), lambda: load(order_hash)


def _deployment(tmp: Path) -> tuple[Path, Callable[[], object]]:
    path = tmp / "devnet.json"
    token = TokenInfo("0x" + "aa" * 20, 18)
    Deployment(31337, "http://127.0.0.1:8545", "0x" + "12" * 20, 1, {"WETH": token}).save(path)
    return path, lambda: Deployment.load(path)


def _node_key(tmp: Path) -> tuple[Path, Callable[[], object]]:
    path = tmp / "node.key"
    NodeKey.load_or_create(path)
    return path, lambda: NodeKey.load_or_create(path)


READERS = {
    "kept order": Reader(_kept, KeptOrderError, follows=False, json=True),
    "deployment file": Reader(_deployment, DeploymentError, follows=True, json=True),
    "node key file": Reader(_node_key, ValueError, follows=True, json=False),
}


def _fifo(path: Path, aside: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _link_to_fifo(path: Path, aside: Path) -> None:
    os.mkfifo(aside / "pipe")
    path.unlink()
    path.symlink_to(aside / "pipe")


def _link_to_device(path: Path, aside: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _dangling_link(path: Path, aside: Path) -> None:
    path.unlink()
    path.symlink_to(aside / "nothing")


def _directory(path: Path, aside: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("kept as it is")


def _huge(path: Path, aside: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(1 << 30)  # (sparse: a GiB that was read whole)


def _deep(path: Path, aside: Path) -> None:
    path.write_bytes(b"[" * 8_000 + b"]" * 8_000)  # (16,000 bytes: within the size bounds)


def _another_order(path: Path, aside: Path) -> None:
    other = kept_path(keep_one())
    path.write_bytes(other.read_bytes())


@dataclass(frozen=True)
class Case:
    spoil: Callable[[Path, Path], None]
    said: str
    """Words of the error (from ``{link}`` on: a reader that follows no link says ``LINK``
    instead)."""
    readers: tuple[str, ...] = tuple(READERS)


LINK = "it is a symbolic link, not a file this wallet wrote"
CASES = {
    "a FIFO": Case(_fifo, "it is a FIFO (named pipe), not a regular file"),
    "a link to a FIFO": Case(_link_to_fifo, "{link}it is a FIFO (named pipe)"),
    "a link to a device": Case(_link_to_device, "{link}it is a character device"),
    "a directory": Case(_directory, "it is a directory, not a regular file"),
    "a huge file": Case(_huge, "it is over"),
    "deep JSON": Case(_deep, "nested deeper than", ("kept order", "deployment file")),
    "another order's file": Case(_another_order, "its order hashes to", ("kept order",)),
    "a link to nothing (kept)": Case(_dangling_link, LINK, ("kept order",)),
    "a link to nothing (deployment)": Case(
        _dangling_link, "no deployment file at", ("deployment file",)
    ),
    "a link to nothing (key)": Case(
        _dangling_link, "cannot be made: it is a symbolic link to no file", ("node key file",)
    ),
}


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``root``, not following links: (mode, size, mtime_ns)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (
                st.st_mode, st.st_size, st.st_mtime_ns,
            )  # fmt: skip
    return out


@contextmanager
def _fifos_freed(root: Path) -> Iterator[None]:
    """On the way out, every FIFO under ``root`` opened at both ends and closed: a read or a
    write blocked in ``open`` (the bug) is freed instead of hanging on."""
    try:
        yield
    finally:
        for dirpath, _, files in os.walk(root):
            for name in files:
                p = os.path.join(dirpath, name)
                if os.path.exists(p) and stat.S_ISFIFO(os.stat(p).st_mode):
                    with suppress(OSError):
                        os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
                    with suppress(OSError):
                        os.close(os.open(p, os.O_RDONLY | os.O_NONBLOCK))


def _bounded(read: Callable[[], object]) -> BaseException | None:
    """What ``read`` raised (None if it returned), failing the test if it runs past
    ``BOUND``."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            read()
            outcome.append(None)
        except BaseException as e:  # (handed to the test)
            outcome.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(BOUND)
    assert not t.is_alive(), f"the read did not return within {BOUND} s (it blocks)"
    return outcome[0]


@pytest.mark.parametrize(
    ("reader", "case"),
    [(r, c) for c, case in CASES.items() for r in case.readers],
)
def test_a_hostile_file_is_one_error_changing_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str, case: str
) -> None:
    monkeypatch.setenv("SDEX_WALLET_DIR", str(tmp_path / "wallet"))
    aside = tmp_path / "aside"
    aside.mkdir()
    r, c = READERS[reader], CASES[case]
    path, read = r.make(tmp_path)
    assert _bounded(read) is None  # (the good file reads)
    c.spoil(path, aside)
    before = _tree(tmp_path)
    with _fifos_freed(tmp_path):
        raised = _bounded(read)
    assert isinstance(raised, r.error), repr(raised)
    said = str(raised)
    assert str(path) in said and "\n" not in said, said
    linked = "{link}" in c.said
    assert (LINK if linked and not r.follows else c.said.replace("{link}", "")) in said, said
    assert _tree(tmp_path) == before


def test_a_kept_order_read_through_a_link_is_refused_a_deployment_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link to a good file: the deployment file and the key are followed (a user may keep
    one there, a secret mounted as a link); a kept order is the wallet's own, never a link."""
    monkeypatch.setenv("SDEX_WALLET_DIR", str(tmp_path / "wallet"))
    for name in ("deployment file", "node key file", "kept order"):
        r = READERS[name]
        path, read = r.make(tmp_path)
        moved = tmp_path / f"moved-{path.name}"
        path.rename(moved)
        path.symlink_to(moved)
        raised = _bounded(read)
        assert (raised is None) == r.follows, (name, raised)


def test_sdex_repost_of_a_fifo_says_so_and_returns(tmp_path: Path) -> None:
    """The command as a user runs it: a FIFO at the order's file hung ``sdex repost`` for
    ever; now one line, exit 1, before any node is asked."""
    env = {**os.environ, "SDEX_WALLET_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    order_hash = "0x" + "ab" * 32
    (tmp_path / "orders").mkdir()
    fifo = tmp_path / "orders" / f"{order_hash}.json"
    os.mkfifo(fifo)
    with _fifos_freed(tmp_path):
        done = subprocess.run(
            [sys.executable, "-m", "sdex", "repost", order_hash, "--node", "http://127.0.0.1:9"],
            env=env, capture_output=True, text=True, timeout=BOUND, check=False,
        )  # fmt: skip
    said = " ".join(done.stderr.split())
    assert done.returncode == 1, said
    assert f"error: the kept order {fifo} cannot be used: it is a FIFO" in said, said
    assert fifo.is_fifo()


HISTORY_CASES = {
    "a FIFO": lambda p: os.mkfifo(p),
    "a directory": lambda p: p.mkdir(),
    "a huge file": lambda p: p.write_bytes(b"x" * ((1 << 20) + 1)),
}


@pytest.mark.parametrize("case", sorted(HISTORY_CASES))
def test_the_console_history_is_left_alone_when_not_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """readline opens the history blocking and reads it whole: a FIFO there hung the
    console's start at a terminal; now such a history is neither read nor written."""
    from sdex.consolehistory import HISTORY_FILE, readline_history

    monkeypatch.setenv("HOME", str(tmp_path))
    path = HISTORY_FILE.expanduser()
    path.parent.mkdir(parents=True)
    HISTORY_CASES[case](path)
    before = _tree(tmp_path)

    def session() -> None:
        with readline_history(typing=True):
            pass

    with _fifos_freed(tmp_path):
        assert _bounded(session) is None
    assert _tree(tmp_path) == before


# -- the kept orders bounded -------------------------------------------------------------------


def test_kept_orders_are_pruned_as_each_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """wallet80: the kept orders were never removed. Each one written now removes those
    expired an hour, then the oldest written past ``MAX_KEPT``, and temporary files left an
    hour; an order expired less than an hour ago stays (the chain's clock may lag), and
    nothing that is not the wallet's own file is touched: before, all 9 stayed (failed 1 of
    1)."""
    from sdex import walletkeep

    monkeypatch.setenv("SDEX_WALLET_DIR", str(tmp_path))
    monkeypatch.setattr(walletkeep, "MAX_KEPT", 4)
    prune = walletkeep.prune
    monkeypatch.setattr(walletkeep, "prune", lambda *a, **k: [])  # (none while set up)
    now = int(time.time())
    expired = keep_one(expiry=now - walletkeep.EXPIRED_FOR - 60)
    lately = keep_one(expiry=now - 60)
    live = [keep_one() for _ in range(3)]
    orders = tmp_path / "orders"
    for i, h in enumerate([lately, *live]):  # (written in this order, a second apart)
        os.utime(kept_path(h), (now - 100 + i, now - 100 + i))
    old = now - walletkeep.EXPIRED_FOR - 120  # (written before it expired)
    os.utime(kept_path(expired), (old, old))
    stale = orders / f".{kept_path(live[0]).name}.x1.tmp"
    stale.write_text("{")
    os.utime(stale, (now - 7200, now - 7200))
    hostile = {  # (entries at names the wallet could have written: left as they are)
        "0x" + "01" * 32 + ".json": lambda p: os.mkfifo(p),
        "0x" + "02" * 32 + ".json": lambda p: p.mkdir(),
        "0x" + "03" * 32 + ".json": lambda p: p.symlink_to(kept_path(live[0])),
        "0x" + "04" * 32 + ".json": lambda p: (
            p.write_bytes(kept_path(expired).read_bytes()),
            os.utime(p, (old, old)),
        ),
        "notes.txt": lambda p: p.write_text("mine"),
    }
    for name, make in hostile.items():
        make(orders / name)
    assert expired in {p.stem for p in orders.iterdir()}
    monkeypatch.setattr(walletkeep, "prune", prune)
    newest = keep_one()  # (5 live with it: one past the bound, the oldest signed goes)
    names = {p.name for p in orders.iterdir()}
    assert names == {f"{h}.json" for h in [*live, newest]} | set(hostile), names
    assert all((orders / n).is_symlink() or (orders / n).exists() for n in hostile)


def test_pruning_reads_a_bounded_number_of_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory filled with other entries is looked at ``MAX_SCAN`` entries at most, and
    the order is kept all the same."""
    from sdex import walletkeep

    monkeypatch.setenv("SDEX_WALLET_DIR", str(tmp_path))
    monkeypatch.setattr(walletkeep, "MAX_SCAN", 10)
    orders = tmp_path / "orders"
    orders.mkdir()
    for i in range(50):
        (orders / f"other-{i}").write_text("x")
    h = keep_one()
    assert load(h).signed.hash_hex == h
    assert len(list(orders.iterdir())) == 51


def test_a_cancelled_order_is_no_longer_kept(chain: Chain, tmp_path: Path) -> None:
    """wallet80: an order cancelled with ``sdex cancel`` stayed kept, and ``sdex repost``
    posted it again as it was signed: to a node that never saw the soft cancel (one of
    another network's mesh, one restarted without its database) the cancelled order was open
    again. A cancel now forgets the kept order, soft or on chain (failed 1 of 1 before: the
    file stayed)."""
    from tests.test_cli_node import ALICE, key, node, one_line
    from tests.test_wallet79_repost import _posted_hash, _run

    wallet = tmp_path / "wallet"
    with node(chain, tmp_path) as (url, dep):
        trust = ("--node", url, "--key", key(chain, ALICE), "--deployment", str(dep))
        for how in ((), ("--onchain",)):
            order_hash = _posted_hash(_run(wallet, "order", "buy", "1500", "0.5", *trust))
            assert kept_path_in(wallet, order_hash).is_file()
            r = _run(wallet, "cancel", order_hash, *trust, *how)
            assert r.exit_code == 0, r.output
            assert not kept_path_in(wallet, order_hash).exists(), how
            r = _run(wallet, "repost", order_hash, "--node", url, "--deployment", str(dep))
            assert r.exit_code == 1 and f"no order {order_hash} is kept" in one_line(r.output)


def kept_path_in(wallet: Path, order_hash: str) -> Path:
    return wallet / "orders" / f"{order_hash}.json"


DEFAULT_CASES = {
    "a FIFO": (lambda p: os.mkfifo(p), "it is a FIFO (named pipe)"),
    "a directory": (lambda p: p.mkdir(), "it is a directory"),
    "a link to nothing": (lambda p: p.symlink_to(p.parent / "gone.json"), "no deployment file"),
}


@pytest.mark.parametrize("case", sorted(DEFAULT_CASES))
def test_the_default_deployment_path_not_a_file_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """A wallet command's deployment file at its default path (no --deployment) is read when
    one is there: a FIFO, a directory or a dead link there was taken for no file, and the
    node's listing went unchecked with only a warning (failed 3 of 3 before: None); now the
    one-line error of a named file that cannot be used, within the bound."""
    from sdex.deployment import DEFAULT_PATH
    from sdex.wallettrust import Trusted

    monkeypatch.chdir(tmp_path)
    DEFAULT_PATH.parent.mkdir(parents=True)
    make, said = DEFAULT_CASES[case]
    make(DEFAULT_PATH)
    with _fifos_freed(tmp_path):
        raised = _bounded(Trusted(DEFAULT_PATH, deployment_given=False).deployment)
    assert isinstance(raised, DeploymentError) and said in str(raised), repr(raised)
    assert str(DEFAULT_PATH) in str(raised)
    if DEFAULT_PATH.is_dir() and not DEFAULT_PATH.is_symlink():
        DEFAULT_PATH.rmdir()
    else:
        DEFAULT_PATH.unlink()
    assert Trusted(DEFAULT_PATH, deployment_given=False).deployment() is None  # (nothing there)
