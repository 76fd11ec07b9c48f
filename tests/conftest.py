"""Shared fixtures: one real chain per test session, a snapshot per test.

The chain is Hardhat unless ``SDEX_TEST_ENGINE=anvil`` (or ``pytest --engine anvil``) asks for
anvil; CI runs Hardhat.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import settings

from sdex.chain import Exchange, Rpc, Sender, Token
from sdex.chainnode import ENGINES, Engine, HardhatNode
from sdex.deployment import Deployment
from sdex.devnet import Devnet
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder, random_salt, sign_order
from tests.deep import DEEP

pytest_plugins = ("tests.strays",)  # (a test's processes outliving it: killed)

LOG_DIR = Path(os.environ.get("SDEX_TEST_LOGS", "/tmp/sdex-test-logs"))
REAL_HOME = Path(os.environ.get("SDEX_TEST_REAL_HOME") or os.path.expanduser("~"))
"""The home directory the suite was started in (a developer's own): no test writes there.
The suite's process and its children run with ``$HOME`` at a directory of the session's
instead (``TEST_HOME``, ``pytest_configure``), which ``real_home_untouched`` watches."""
HOME_PATHS = (".sdex", ".sdex/wallet", ".sdex/wallet/orders", ".sdex/console_history")
"""Where a wallet command or the console writes in a home directory (``sdex.walletkeep``,
``sdex.consolehistory``): a file added, removed or replaced in one changes its time."""


def home_marks(home: Path) -> dict[str, int | None]:
    """Each of ``home``'s ``HOME_PATHS``' modification time (ns; None: absent)."""
    marks: dict[str, int | None] = {}
    for rel in HOME_PATHS:
        try:
            marks[rel] = (home / rel).stat().st_mtime_ns
        except OSError:
            marks[rel] = None
    return marks


def home_written(before: dict[str, int | None], home: Path) -> list[str]:
    """The paths of ``home`` written since ``before`` (``home_marks``)."""
    after = home_marks(home)
    return [str(home / rel) for rel in HOME_PATHS if after[rel] != before[rel]]


ROOT = Path(__file__).resolve().parents[1]

settings.register_profile("sdex", deadline=None)
settings.load_profile("sdex")
"""No hypothesis example has a time limit (flake87: an example of cpu29_text's took 337 ms on
a machine at load 30, past the default 200 ms deadline, and failed the suite): a test's
examples say what they pin, never how fast the machine ran them (a benchmark does,
bench/). Every ``@settings`` a test gives takes its unsaid values from this one."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        choices=ENGINES,
        default=os.environ.get("SDEX_TEST_ENGINE", "hardhat"),
        help="the chain the tests run on (default: $SDEX_TEST_ENGINE or hardhat)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # (wallet79: every order a wallet command signs is kept, in $SDEX_WALLET_DIR: the suite's
    # in a directory of its own, never the user's ~/.sdex/wallet nor a $SDEX_WALLET_DIR of
    # theirs (users83: it was kept); subprocesses inherit it; each test has its own:
    # ``own_directory``)
    os.environ["SDEX_WALLET_DIR"] = _SESSION_WALLET[0] = tempfile.mkdtemp(
        prefix="sdex-test-wallet-"
    )
    # (users86: the guard watched the real home's ~/.sdex by its times, so a developer's own
    # `sdex order` during a run failed whichever test was running; now the suite's home is
    # its own, the only one watched: a test that writes into "~/.sdex" writes there, and
    # fails, and nothing of the real home's is read or written)
    os.environ.setdefault("SDEX_TEST_REAL_HOME", str(REAL_HOME))  # (an xdist worker's: the same)
    TEST_HOME["home"] = home = Path(_SESSION_WALLET[0]) / "home"
    home.mkdir()
    os.environ["HOME"] = str(home)
    config.addinivalue_line(
        "markers",
        "cpu_bound(seconds): bounded by the process's CPU time (times SDEX_DEEP), not the "
        "wall clock's pytest-timeout",
    )
    if not hasattr(config, "workerinput"):  # (the controller, or a run without xdist)
        compile_ahead()
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        rewrite_ahead(config)


def compile_ahead() -> None:
    """``sdex``'s modules compiled into its ``__pycache__`` once, before any test starts a
    process, as the Makefile's ``compileall`` does for ``make test`` (nothing done for a
    module whose compiled file is up to date: 0.04 CPU-s for all of them).

    suite96: where ``PYTHONDONTWRITEBYTECODE`` is set (a helper's worktree here; any run of
    ``pytest`` itself on such a machine), no ``sdex`` process ever wrote what it compiled,
    so each ``sdex node`` or CLI process the tests start compiled all of ``sdex`` again:
    ``import sdex.cli, sdex.node.main`` 1.34 CPU-s uncompiled, 0.86 compiled (medians of 9
    alternated; docs/BENCHMARKS.md, suite96)."""
    import compileall

    compileall.compile_dir(ROOT / "sdex", quiet=1)


def rewrite_ahead(config: pytest.Config) -> None:
    """In an xdist controller, before its workers start: each test module whose rewritten
    code (pytest's assertion rewriting) is not cached in ``tests/__pycache__`` yet is
    rewritten and cached, half of them in a forked child, so that every worker reads them.

    suite86: each worker rewrote all ~860 modules itself when it collected (15.8 of its
    20.8 s of CPU; 5.0 s reading them cached): on a fresh clone, or wherever
    ``PYTHONDONTWRITEBYTECODE`` is set (pytest then reads its cache but never writes it),
    three workers spent ~47 s of the 2 cores' CPU at the suite's start rewriting the same
    files at once. Cached whatever that variable says, as the Makefile compiles ``sdex``'s
    own (``compileall``). pytest's private rewriting functions: on a pytest without them,
    nothing is done here and each worker rewrites as before."""
    try:
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            _rewrite_test,
            _write_pyc,
            assertstate_key,
            get_cache_dir,
        )
    except ImportError:
        return
    state = config.stash.get(assertstate_key, None)
    if state is None or config.getoption("assertmode", "rewrite") != "rewrite":
        return
    tests = Path(__file__).resolve().parent
    todo = []
    for fn in [tests / "conftest.py", *sorted(tests.glob("test_*.py"))]:
        pyc = get_cache_dir(fn) / (fn.name[:-3] + PYC_TAIL)
        try:
            head = pyc.read_bytes()[:16]
        except OSError:
            head = b""
        source_hash = importlib.util.source_hash(fn.read_bytes())[:8]
        if head != importlib.util.MAGIC_NUMBER + b"\x03\x00\x00\x00" + source_hash:
            todo.append((fn, pyc))
    if not todo or not hasattr(os, "fork"):
        return

    def rewrite(part: list[tuple[Path, Path]]) -> None:
        for fn, pyc in part:
            with contextlib.suppress(Exception):  # (the worker rewrites it, and says why)
                pyc.parent.mkdir(exist_ok=True)
                source_hash, co = _rewrite_test(fn, config)
                _write_pyc(state, co, source_hash, pyc)

    child = os.fork()
    if child == 0:  # (the child: exits without running pytest's exit hooks)
        try:
            rewrite(todo[::2])
        finally:
            os._exit(0)
    rewrite(todo[1::2])
    os.waitpid(child, 0)


TEST_HOME: dict[str, Path] = {}
"""``"home"``: the session's ``$HOME`` (under its wallet directory, removed with it)."""
_SESSION_WALLET = [""]
"""The session's wallet directory (``pytest_configure``), removed at its end (users83: one
was left in /tmp by every run of every worker, 1,602 of them on the shared machine)."""


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_WALLET[0]:
        shutil.rmtree(_SESSION_WALLET[0], ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # (a cpu_bound test's own timeout mark, if any, is kept)
        if item.get_closest_marker("cpu_bound") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(0))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """A ``cpu_bound(seconds)`` test fails past that much CPU time of its process
    (``ITIMER_PROF``), whatever the wall clock says.

    flake66: a property test doing ~10 s of CPU work (``test_book_state``'s machine: 16.5 s
    of user CPU for the file, 454 s of wall time at load ~22 on 2 cores) met
    pytest-timeout's 300 s wall-clock bound part way through an example; hypothesis took
    that ``Failed`` for the example's own failure, replayed it, and reported a flaky test
    (``FlakyStrategyDefinition``/``FlakyFailure``). A bound on CPU time still stops a test
    that loops for good (a loop burns CPU), and is met the same on a quiet machine or a
    loaded one."""
    mark = item.get_closest_marker("cpu_bound")
    if mark is None:
        return (yield)
    seconds = float(mark.args[0]) * DEEP

    def over(signum: int, frame: FrameType | None) -> None:
        pytest.fail(f"over {seconds:g} s of CPU time (cpu_bound)", pytrace=False)

    old = signal.signal(signal.SIGPROF, over)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """In an xdist worker, after the session's fixtures are torn down and before it tells the
    controller it has finished: collect the garbage, then freeze the heap (``gc.freeze``).

    Once every worker has finished, the controller tells them to exit, and execnet gives a
    worker 5 s to end before it sends *itself* SIGINT (``WorkerGateway._terminate_execution``).
    pytest's own end collects the garbage twice (unraisable exceptions, ``unconfigure``);
    over a full run's heap on a loaded machine that took longer, and the KeyboardInterrupt
    landed in a collection's callback (hypothesis's): a PytestUnraisableExceptionWarning.
    Collected here (unraisable exceptions still reported: pytest's hook is still in place)
    and frozen, the heap is not walked again: those collections take milliseconds."""
    if hasattr(session.config, "workerinput"):
        gc.collect()
        gc.freeze()


@pytest.fixture(autouse=True)
def own_directory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test runs in an empty directory of its own, not the repository's root (wallet78):
    a wallet command reads ``.sdex/devnet.json`` where it runs when it is there (trust77), and
    README's "Run nodes by hand" writes one at the root, so a developer's own devnet file
    changed what CLI tests invoking ``sdex`` in-process or as a child saw (a test of ``sdex
    order`` against its node refused: "refusing to sign: ... exchange is 0x... at the node,
    0x... in the deployment file .sdex/devnet.json"); and a command writing there (``sdex
    devnet``'s default file) wrote into the tree. A test needing the root names it (``ROOT``,
    ``cwd=ROOT``). A child ``python -m sdex`` imported this tree's ``sdex`` from its working
    directory: it is put first on ``$PYTHONPATH`` instead."""
    here = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(here)
    # (users83: one wallet directory for a whole session: a test saw another's kept orders)
    monkeypatch.setenv("SDEX_WALLET_DIR", str(tmp_path_factory.mktemp("wallet")))
    paths = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in paths.split(os.pathsep):
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), paths) if p))
    return here


@pytest.fixture(autouse=True)
def real_home_untouched() -> Iterator[None]:
    """A test that writes into its home's ``~/.sdex`` (a wallet command given no
    ``$SDEX_WALLET_DIR``, the console's history) fails (users83): the session's home
    (``TEST_HOME``), where such a write lands instead of the real one's (``REAL_HOME``,
    users86: watched there, a developer's own wallet command failed a random test)."""
    home = TEST_HOME["home"]
    before = home_marks(home)
    yield
    if written := home_written(before, home):
        pytest.fail(
            f"the test wrote into its home directory ({', '.join(written)}): run as a user, "
            f"it would have written into {REAL_HOME}"
        )


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest) -> Engine:
    value = request.config.getoption("--engine")
    assert value in ENGINES
    return "anvil" if value == "anvil" else "hardhat"


@pytest.fixture(scope="session")
def devnet(engine: Engine) -> Iterator[Devnet]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    net = Devnet(log_path=LOG_DIR / f"{engine}-{os.getpid()}.log", accounts=20, engine=engine)
    net.start()
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="session")
def lagging_node() -> Iterator[Rpc]:
    """A second Hardhat node, one a worker, started when a test first asks for it: the same
    chain id and accounts as the devnet's Hardhat, none of its blocks (a load balancer's
    lagging backend: reconcile77's ``lagging``, which reverts it after each test). suite86:
    each test using one started its own (~3 s quiet, ~15 s at load 30, nine tests)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    node = HardhatNode(None, LOG_DIR / f"lagging-{os.getpid()}.log")
    try:
        yield node.start()
    finally:
        node.stop()


@dataclass
class Chain:
    """A test's view of the devnet: deployment, typed clients and dev wallets."""

    rpc: Rpc
    deployment: Deployment
    exchange: Exchange
    domain: Domain
    weth: Token
    usdc: Token
    keys: list[bytes]
    senders: list[Sender] = field(default_factory=list)

    def sender(self, i: int) -> Sender:
        return self.senders[i]

    def address(self, i: int) -> str:
        return self.senders[i].address

    def now(self) -> int:
        return int(self.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def order(
        self,
        maker: int,
        sell: Token,
        sell_amount: int,
        buy: Token,
        buy_amount: int,
        **kw: object,
    ) -> Order:
        fields: dict[str, object] = {
            "maker": self.address(maker),
            "taker": ZERO_ADDRESS,
            "maker_token": sell.address,
            "taker_token": buy.address,
            "maker_amount": sell_amount,
            "taker_amount": buy_amount,
            "fee_recipient": ZERO_ADDRESS,
            "fee_amount": 0,
            "expiry": self.now() + 3600,
            "salt": random_salt(),
        }
        fields.update(kw)
        return Order(**fields)  # type: ignore[arg-type]

    def sign(self, order: Order, maker: int | None = None) -> SignedOrder:
        idx = maker if maker is not None else self.index_of(order.maker)
        return sign_order(order, self.domain, self.keys[idx])

    def index_of(self, address: str) -> int:
        return next(i for i, s in enumerate(self.senders) if s.address == address)


def chain_of(rpc: Rpc, d: Deployment) -> Chain:
    """A test's view of the deployment ``d`` reached through ``rpc``."""
    keys = [bytes.fromhex(a.key[2:]) for a in d.accounts]
    exchange = Exchange(rpc, d.exchange)
    return Chain(
        rpc=rpc,
        deployment=d,
        exchange=exchange,
        domain=exchange.domain(),
        weth=Token(rpc, d.token("WETH").address),
        usdc=Token(rpc, d.token("USDC").address),
        keys=keys,
        senders=[Sender(rpc, k, d.chain_id) for k in keys],  # fresh nonce lanes per test
    )


@contextlib.contextmanager
def reverted(net: Devnet) -> Iterator[Chain]:
    """The devnet's deployment, reverted to its state now afterwards (``evm_snapshot``),
    the next block's base fee and the chain's clock included.

    anvil (1.7) keeps the base fee it worked out for the next block through ``evm_revert``
    (foundry-rs/foundry#16241 fixed that later): after a test that raised the base fee
    (``hardhat_setNextBlockBaseFeePerGas``, busy blocks), the next block's base fee stayed
    up while the latest block's was the snapshot's, low. The next test on that chain signed
    with twice the latest's fee, as a node does (within 12.5 % a block on a real chain), and
    anvil refused it: "max fee per gas less than block base fee". Hardhat restores it.

    anvil (1.7) also sets the chain's clock back to the reverted-to head's stamp: the next
    test's blocks were stamped behind the wall clock by the time since that head (the
    deployment's: minutes into a session), which a node takes as the least the chain's time
    can be. An order expiring a block on was refused as already expired (attack50 after
    review48 on one anvil: 22 s behind, within ``on_time``'s ``CLOCK_DRIFT``). On anvil the
    clock is put back to its offset from the wall clock at the snapshot (``evm_setTime``: the
    pending block's stamp then told it). The wall clock alone is not it: anvil stamps a
    block so even before its parent, for a state whose clock ran ahead."""
    rpc, deployment = net.rpc, net.deployment
    assert rpc is not None and deployment is not None
    snap = rpc.call("evm_snapshot")
    pending = rpc.call("eth_getBlockByNumber", "pending", False) if net.engine == "anvil" else None
    ahead = 0 if not isinstance(pending, dict) else int(pending["timestamp"], 16) - int(time.time())
    try:
        yield chain_of(rpc, deployment)
    finally:
        assert rpc.call("evm_revert", snap) is True
        if isinstance(pending, dict):  # (anvil's pending block: the next block's base fee)
            rpc.call("anvil_setNextBlockBaseFeePerGas", pending["baseFeePerGas"])
            rpc.call("evm_setTime", int(time.time()) + ahead)


CLOCK_DRIFT = 30
"""Seconds the chain's clock may stray from the wall clock's at a test's start (``on_time``)."""


def on_time(net: Devnet) -> None:
    """The chain's clock put back near the wall clock's when the tests before moved it more
    than ``CLOCK_DRIFT`` s away: one empty block mined, stamped by the wall clock (or one
    second past the latest block, if that is later).

    ``evm_revert`` moves the clock by the time the reverted test took: Hardhat (2.29) ahead,
    anvil (1.7) back. Over a session every test's time added up: ~10 minutes of tests on a
    loaded machine and Hardhat's next block was stamped 10 minutes ahead, so an order
    expiring 600 s out by the wall clock was refused as expired (the node reads the chain's
    pending block: ``MAX_PENDING_LEAD``; verify28), and a test that put the next block at a
    time it took from the node's clock found the chain past it (landing49: "Timestamp lower
    than the previous block's")."""
    rpc = net.rpc
    assert rpc is not None
    latest = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    pending = int(rpc.call("eth_getBlockByNumber", "pending", False)["timestamp"], 16)
    stamp = max(latest + 1, int(time.time()))
    if abs(pending - stamp) > CLOCK_DRIFT:
        rpc.call("evm_setNextBlockTimestamp", stamp)
        rpc.call("evm_mine")


@pytest.fixture
def chain(devnet: Devnet) -> Iterator[Chain]:
    """The devnet, its clock near the wall clock's (``on_time``), reverted to that state
    after the test (``reverted``)."""
    on_time(devnet)
    with reverted(devnet) as c:
        yield c


QUICK_DOUBT_READ_STEP = 0.05
"""``quick_doubt_reads``' pause before a start's second read in a doubt (the product's 0.5 s)."""


@pytest.fixture
def quick_doubt_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A start in a chain doubt reads the stored orders the saved mirror cannot judge
    ``DOUBT_READS`` times before it holds, the pause doubled from ``DOUBT_READ_STEP``
    (``sdex.node.reload``: 0.5 s, 7.5 s in all), and a held start's reads and refused steps
    are tried again from that pause. For a test of an in-process node (``running_node``) whose
    subject is the hold itself or what follows it, not how long a start tries before it holds:
    the same five reads in ~0.75 s (suite93: 7.5 s of waiting a held start, 12 tests)."""
    from sdex.node import reload

    monkeypatch.setattr(reload, "DOUBT_READ_STEP", QUICK_DOUBT_READ_STEP)


@pytest.fixture
def quick_restart_receipts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A start's settlement rows sent again wait ``RESTART_RECEIPT_WAIT`` (10 s) for their
    receipts before they are kept pooled or given up (``sdex.settlement.reconcile``). For a
    test on a chain that mines only when told (``pooling``), whose rows no receipt can end
    before the test mines: 1 s, for the node processes the test starts
    (``$SDEX_TEST_RESTART_RECEIPT_WAIT``) and in-process nodes alike (suite93: 10 s a start)."""
    monkeypatch.setenv("SDEX_TEST_RESTART_RECEIPT_WAIT", "1")
