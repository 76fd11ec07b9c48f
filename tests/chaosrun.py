"""A bounded, seeded chaos run with real parts (chaos52): a Hardhat devnet, three ``sdex node``
processes peered on loopback (``Cluster``), wallets posting crossing and resting orders (GTC,
IOC, FOK; soft and on-chain cancels) while, at seeded steps, a node is killed (SIGKILL) or
stopped (SIGTERM) and restarted on its database and port, the chain is rewound
(``evm_snapshot``, blocks, ``evm_revert``, a longer branch mined: 1-10 blocks undone), mining
pauses and resumes, and a maker's funds or approval go away and come back.

After each phase the run settles (automine on, no open snapshot, every node at the chain's
head, nothing in flight) and checks: every order a node acknowledged (2xx) is still known to
it; each node's status and filled amount agree with the chain's ``getOrderStates``; each fill
a node holds is on the chain (its transaction's receipt, block and log); ``sdex audit`` finds
nothing against any node; no node died unexpectedly or logged a traceback. Every failure is a
``violations`` entry (the run goes on): ``bench/chaos52.py`` prints them, the suite's test
asserts there are none.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from sdex.audit import audit_network
from sdex.chain.exchange import OrderStatus
from sdex.chain.receipt import Receipt
from sdex.errors import ContractRevert
from sdex.order import SignedOrder
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import Cluster
from tests.test_node import E18, ask, bid

TRADERS = (1, 2, 3, 4, 5, 6)
SINK = 12
"""The account a maker's funds are moved to (and back from)."""
OUTSIDER = 10
"""The account that fills the run's orders straight on chain (``outside_fills``): a taker
no node knows, front-running the nodes' settlements with the Exchange's ``fillOrder``."""
OPERATORS = (19, 18, 17)
"""Nodes 0-2's operator accounts (``tests.nodeutil.operator_key``)."""
UINT256_MAX = 2**256 - 1
CHECK_TRIES = 3
"""Times a phase's check is read when the chain's head moved while it read (``check``)."""
SETTLE_TIMEOUT = 90.0
"""Seconds a phase's end waits for the nodes to reach the chain's head with nothing in flight."""


@dataclass
class Acked:
    signed: SignedOrder
    node: int
    tif: str
    maker: int


@dataclass
class Snap:
    id: str
    block: int
    moved: dict[int, tuple[str, int]]


@dataclass
class ChaosRun:
    c: Chain
    net: Cluster
    seed: int
    steps: int = 20
    phases: int = 2
    rng: random.Random = field(init=False)
    acked: list[Acked] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    snap: Snap | None = None
    paused: bool = False
    moved: dict[int, tuple[str, int]] = field(default_factory=dict)
    """maker -> ("weth", amount moved to SINK) or ("approve", 0): what to undo."""
    cancel_in_flight: bool = False
    """Soft-cancel orders with a settlement in flight at some node too (a known race: the
    nodes that take the cancel from a peer hold the order cancelled without the fill that
    lands after, and the audit flags it there as ``fill_after_node_closed``)."""
    restart_in_reorg: bool = False
    """Rewind the chain while a node is down (chaos63): a SIGKILL with a snapshot open, and
    the revert across a settlement in flight, kill a node, revert, then restart it, so the
    node meets the reorg at its start (its saved head gone) rather than live."""
    cuts: bool = False
    """Cut a node off for a few steps (chaos63): SIGSTOP, then posts and soft cancels at the
    other nodes (a soft cancel of an order the cut node may be settling), then SIGCONT."""
    outside_fills: bool = False
    """Fill orders of the run straight on chain from an account no node knows (chaos66):
    the Exchange's ``fillOrder`` is anyone's, so a taker who saw an order may take it, whole
    or in part, ahead of (or beside) a node's settlement of it; most often the order a
    crossing post just put in a node's match."""
    db_locks: bool = False
    """Hold a node's database write lock from another process for 1-8 s (chaos69): an
    operator's ``sqlite3`` shell or a backup holding ``BEGIN IMMEDIATE`` on the node's file,
    past the node's busy timeout (5 s) at times, while posts and soft cancels go to every
    node, the locked one too (its writes wait, then fail: nothing acknowledged is lost)."""
    soft_cancelled: set[bytes] = field(default_factory=set)
    """The orders a node took a soft cancel of (200, or 202: kept until its order comes, then
    applied as a 200's is)."""
    paid: list[str] = field(default_factory=list)
    """The nodes' transactions the chain reverted and batch matches it skipped, with their
    reasons (``tally_operators``): gas paid for nothing, listed in the summary."""
    scanned: int = 0
    """The last block whose operators' transactions were tallied (``tally_operators``)."""
    frozen: int | None = None
    """The node cut off now (stopped), if any: no step asks it anything."""
    tracebacks: list[int] = field(default_factory=lambda: [0, 0, 0])
    """The tracebacks each node's log held at the last check (each reported once)."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # ── bookkeeping ──
    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def note(self, what: str) -> None:
        self.events.append(f"{time.monotonic():.2f} {what}")

    def violate(self, kind: str, **detail: Any) -> None:
        self.violations.append({"kind": kind, "events": len(self.events), **detail})

    def head(self) -> int:
        return int(self.c.rpc.call("eth_blockNumber"), 16)

    # ── the run ──
    async def run(self) -> dict[str, Any]:
        for phase in range(self.phases):
            for _ in range(self.steps):
                await self.step()
                self.check_alive()
            await self.settle()
            await self.check(phase)
            self.tally_operators()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "steps": self.steps,
            "phases": self.phases,
            "acked": len(self.acked),
            "counts": dict(sorted(self.counts.items())),
            "violations": self.violations,
            "paid": self.paid,
            "events": self.events,
        }

    async def step(self) -> None:
        r = self.rng.random()
        if r < 0.50:
            await self.post()
        elif r < 0.58:
            await self.soft_cancel()
        elif r < 0.62:
            self.onchain_cancel()
        elif r < 0.66:
            await self.restart(self.rng.randrange(3), signal.SIGKILL, self.down_in_reorg())
        elif r < 0.69:
            await self.restart(self.rng.randrange(3), signal.SIGTERM)
        elif r < 0.76:
            self.snapshot_or_revert()
        elif r < 0.82:
            self.pause_or_resume()
        elif r < 0.90:
            self.move_funds()
        else:
            i = await self.post(cross=True)
            if self.outside_fills and i is not None and self.rng.random() < 0.5:
                self.outside_fill(self.acked[-1])  # (its match at node i on its way)
            if self.snap is not None and self.rng.random() < 0.5:
                if self.restart_in_reorg and i is not None:  # (the node that took the post)
                    await self.restart(i, signal.SIGKILL, revert=True)
                else:
                    self.revert()  # across a settlement in flight
        if self.snap is not None and self.head() - self.snap.block >= 10:
            self.revert()
        if self.cuts and self.rng.random() < 0.08:
            await self.cut()
        if self.outside_fills and self.rng.random() < 0.12:
            self.outside_fill()
        if self.db_locks and self.rng.random() < 0.06:
            await self.db_lock()

    def trader(self) -> int:
        return self.rng.choice(TRADERS)

    def node(self) -> int:
        """A node of the seed's pick, never the one cut off."""
        if self.frozen is None:
            return self.rng.randrange(3)
        return self.rng.choice([j for j in range(3) if j != self.frozen])

    async def post(self, cross: bool = False) -> int | None:
        """Post an order to a node of the seed's pick: that node when it took it (2xx)."""
        maker = self.trader()
        side = self.rng.choice(("ask", "bid"))
        price = self.rng.randint(995, 1005) if not cross else (990 if side == "ask" else 1010)
        tenths = self.rng.randint(1, 5)
        base = tenths * E18 // 10
        quote = tenths * price * 10**5
        order = (ask if side == "ask" else bid)(self.c, maker, base, quote)
        signed = self.c.sign(order, maker)
        tif = self.rng.choices(("gtc", "ioc", "fok"), (70, 15, 15))[0]
        i = self.node()
        try:
            code, _ = await self.net.api(i).post_order(signed, tif)
        except (TimeoutError, aiohttp.ClientError) as e:
            self.count(f"post_error_{type(e).__name__}")
            return None
        self.count(f"post_{tif}_{code}")
        if not 200 <= code < 300:
            return None
        self.acked.append(Acked(signed, i, tif, maker))
        self.note(f"post {tif} {side} {signed.hash_hex[:10]} at {i}: {code}")
        return i

    async def in_flight(self, a: Acked) -> bool:
        """Whether any node has a settlement of ``a`` in flight."""
        for i in range(3):
            if i == self.frozen:
                continue
            code, rec = await self.net.api(i).get(f"/v1/orders/{a.signed.hash_hex}")
            if code == 200 and rec["metaData"]["pendingMakerAmount"] != "0":
                return True
        return False

    async def soft_cancel(self) -> None:
        if not self.acked:
            return
        a = self.rng.choice(self.acked)
        i = self.node()
        if not self.cancel_in_flight and await self.in_flight(a):
            self.count("soft_cancel_skipped_in_flight")  # (a known race: see the module)
            return
        sig = sign_cancel(self.c.domain, a.signed.hash, self.c.keys[a.maker])
        try:
            code, _ = await self.net.api(i).post(
                f"/v1/orders/{a.signed.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
            )
        except (TimeoutError, aiohttp.ClientError) as e:
            self.count(f"cancel_error_{type(e).__name__}")
            return
        self.count(f"soft_cancel_{code}")
        if code in (200, 202):
            self.soft_cancelled.add(a.signed.hash)
        self.note(f"soft cancel {a.signed.hash_hex[:10]} at {i}: {code}")

    def onchain_cancel(self) -> None:
        if not self.acked or self.paused:
            return
        a = self.rng.choice(self.acked)
        try:
            self.c.exchange.cancel_order(self.c.sender(a.maker), a.signed.order)
            self.count("onchain_cancel")
            self.note(f"on-chain cancel {a.signed.hash_hex[:10]}")
        except Exception as e:  # (already filled or cancelled: refused by the pre-flight)
            self.count(f"onchain_cancel_refused_{type(e).__name__}")

    def outside_fill(self, a: Acked | None = None) -> None:
        """``OUTSIDER`` fills ``a`` (else an order of the run), a GTC, whole or a quarter of
        what is left, with ``fillOrder``: a block of its own when mining runs (skipped while
        paused: the harness waits for its receipt). Not an IOC or FOK: what a node removed
        of one is still fillable on chain, and the audit holds such a fill against the node
        that told its wallet the rest was dead (``fill_after_node_closed``)."""
        if self.paused or not self.acked:
            return
        if a is None:
            a = self.rng.choice(self.acked)
        if a.tif != "gtc":  # (a rest the node removed: above)
            self.count("outside_fill_not_gtc")
            return
        order = a.signed.order
        pays = order.taker_amount if self.rng.random() < 0.5 else order.taker_amount // 4
        try:
            self.c.exchange.fill_order(self.c.sender(OUTSIDER), a.signed, pays)
        except Exception as e:  # (filled, cancelled, expired or unfunded: the pre-flight)
            self.count(f"outside_fill_refused_{type(e).__name__}")
            return
        whole = pays == order.taker_amount
        self.count("outside_fill_whole" if whole else "outside_fill_part")
        self.note(f"outside fill {a.signed.hash_hex[:10]} ({'whole' if whole else 'part'})")

    def down_in_reorg(self) -> bool:
        """Whether this SIGKILL's node stays down across a revert (``restart_in_reorg``)."""
        return self.restart_in_reorg and self.snap is not None and self.rng.random() < 0.7

    async def restart(self, i: int, sig: signal.Signals, revert: bool = False) -> None:
        """Stop node ``i`` with ``sig`` and start it again on its database and port; with
        ``revert``, the open snapshot is reverted while the node is down."""
        proc = self.net.procs[i]
        assert proc is not None
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=30)
        except Exception:
            self.violate("stop_hung", node=i, signal=sig.name)
            proc.kill()
            code = proc.wait(timeout=10)
        if sig == signal.SIGTERM and code != 0:
            self.violate("sigterm_exit_code", node=i, code=code)
        self.count(f"restart_{sig.name}")
        self.note(f"{sig.name} node {i} (exit {code}); restart")
        if revert and self.snap is not None:
            self.revert()
            self.count("reorg_while_down")
        self.net.spawn(i)
        try:
            await self.net.wait_healthy(i)
        except AssertionError as e:
            self.violate("restart_failed", node=i, error=str(e)[-2000:])
            raise

    async def cut(self) -> None:
        """Node i stopped (SIGSTOP: no gossip, no chain, no settlement from it) while 1-4
        posts and soft cancels go to the others, then continued (SIGCONT)."""
        i = self.rng.randrange(3)
        proc = self.net.procs[i]
        assert proc is not None and self.frozen is None
        proc.send_signal(signal.SIGSTOP)
        self.frozen = i
        self.count("cut")
        self.note(f"cut node {i} (SIGSTOP)")
        try:
            for _ in range(self.rng.randint(1, 4)):
                if self.rng.random() < 0.5:
                    await self.soft_cancel()
                else:
                    await self.post(cross=self.rng.random() < 0.5)
        finally:
            proc.send_signal(signal.SIGCONT)
            self.frozen = None
            self.note(f"node {i} continued (SIGCONT)")

    async def db_lock(self) -> None:
        """Node i's database write-locked by another connection (``BEGIN IMMEDIATE``) for
        1-8 s while 1-4 posts and soft cancels go to any node, then released."""
        i = self.rng.randrange(3)
        hold = self.rng.uniform(1.0, 8.0)
        db = sqlite3.connect(self.net.tmp / f"node-{i}.db", isolation_level=None, timeout=30)
        try:
            db.execute("BEGIN IMMEDIATE")
            self.count("db_lock")
            self.note(f"db of node {i} locked for {hold:.1f} s")
            until = time.monotonic() + hold
            for _ in range(self.rng.randint(1, 4)):
                if self.rng.random() < 0.3:
                    await self.soft_cancel()
                else:
                    await self.post(cross=self.rng.random() < 0.5)
            await asyncio.sleep(max(0.0, until - time.monotonic()))  # (the lock's length)
            db.execute("COMMIT")
        finally:
            db.close()
            self.note(f"db of node {i} unlocked")

    def snapshot_or_revert(self) -> None:
        if self.paused:
            return
        if self.snap is None:
            self.snap = Snap(str(self.c.rpc.call("evm_snapshot")), self.head(), dict(self.moved))
            self.count("snapshot")
            self.note(f"snapshot at {self.snap.block}")
        else:
            self.revert()

    def revert(self) -> None:
        snap = self.snap
        assert snap is not None
        self.snap = None
        if self.head() == snap.block:
            self.c.rpc.call("evm_mine")
        undone = self.head() - snap.block
        assert self.c.rpc.call("evm_revert", snap.id) is True
        for s in self.c.senders:
            s.forget_nonce()
        self.moved = snap.moved
        mined = undone + self.rng.randint(1, 2)
        self.c.rpc.call("hardhat_mine", hex(mined))
        self.count("reorg")
        self.counts["reorg_blocks_max"] = max(self.counts.get("reorg_blocks_max", 0), undone)
        self.note(f"reorg: {undone} undone from {snap.block}, {mined} mined")

    def pause_or_resume(self) -> None:
        if self.snap is not None:
            return
        if not self.paused:
            self.c.rpc.call("evm_setAutomine", False)
            self.paused = True
            self.count("pause")
            self.note("automine off")
        else:
            self.resume()

    def resume(self) -> None:
        self.c.rpc.call("evm_setAutomine", True)
        self.c.rpc.call("evm_mine")
        self.paused = False
        self.count("resume")
        self.note("automine on, one block mined")

    def move_funds(self) -> None:
        if self.paused:
            return
        if self.moved and self.rng.random() < 0.6:
            maker = self.rng.choice(sorted(self.moved))
            self.move_back(maker)
            return
        maker = self.trader()
        if maker in self.moved:
            return
        sender = self.c.sender(maker)
        if self.rng.random() < 0.5:
            amount = self.c.weth.balance_of(sender.address)
            try:  # (chaos69: a node's settlement of the maker's ask landed after the read)
                self.c.weth.transfer(sender, self.c.address(SINK), amount)
            except Exception as e:  # (the balance fell below the amount: the pre-flight)
                self.count(f"funds_away_refused_{type(e).__name__}")
                return
            self.moved[maker] = ("weth", amount)
        else:
            self.c.usdc.approve(sender, self.c.exchange.address, 0)
            self.moved[maker] = ("approve", 0)
        self.count(f"funds_away_{self.moved[maker][0]}")
        self.note(f"funds away {maker}: {self.moved[maker][0]}")

    def move_back(self, maker: int) -> None:
        kind, amount = self.moved.pop(maker)
        if kind == "weth":
            self.c.weth.transfer(self.c.sender(SINK), self.c.address(maker), amount)
        else:
            self.c.usdc.approve(self.c.sender(maker), self.c.exchange.address, UINT256_MAX)
        self.count(f"funds_back_{kind}")
        self.note(f"funds back {maker}: {kind}")

    # ── checks ──
    def check_alive(self) -> None:
        for i, proc in enumerate(self.net.procs):
            if proc is not None and proc.poll() is not None:
                self.violate("node_died", node=i, code=proc.returncode)
                self.net.spawn(i)

    async def health(self, i: int) -> dict[str, Any] | None:
        try:
            code, body = await self.net.api(i).get("/health")
        except (TimeoutError, aiohttp.ClientError):
            return None
        return body if code == 200 and isinstance(body, dict) else None

    async def pending(self, i: int) -> tuple[int, set[bytes]]:
        """Node i's orders of the run with an amount in flight (how many), and those it
        holds open (offered)."""
        n, offered = 0, set()
        for a in self.acked:
            code, rec = await self.net.api(i).get(f"/v1/orders/{a.signed.hash_hex}")
            if code != 200:
                continue
            n += rec["metaData"]["pendingMakerAmount"] != "0"
            if rec["metaData"]["status"] in ("open", "partially_filled"):
                offered.add(a.signed.hash)
        return n, offered

    async def settle(self) -> None:
        """Automine on, no open snapshot, every node at the chain's head with nothing in
        flight and the same orders of the run open (``behind`` names node -1 and how many
        are open at some nodes only), twice in a row at the same head (bounded: a node that
        does not get there is a violation). chaos66: an order posted 0.2 s before its node's
        SIGKILL reached the peers 1.4 s after the restart, the audit ran 0.7 s after it
        (``books_disagree``: gossip on its way, not lost). chaos60: one pass, node by node,
        let a node match (its block applied: funds back, mining resumed) after it was read,
        and the check read the chain before that settlement landed and the nodes after:
        every node "wrong" alike, then right."""
        if self.paused:
            self.resume()
        if self.snap is not None:
            self.revert()
        for m in sorted(self.moved):
            self.move_back(m)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet_at = -1  # (the head of the last pass that found nothing behind)
        while True:
            head = self.head()
            behind, offered = [], []
            for i in range(3):
                h = await self.health(i)
                at = -1 if h is None else int(h.get("block") or -1)
                n, held = await self.pending(i)
                offered.append(held)
                if at < head or n:
                    behind.append((i, at))
            if len({frozenset(o) for o in offered}) > 1:  # (chaos66: gossip on its way)
                behind.append((-1, len(set.union(*offered) - set.intersection(*offered))))
            if not behind and self.head() == head:
                if quiet_at == head:
                    return
                quiet_at = head
            else:
                quiet_at = -1
            if time.monotonic() > deadline:
                self.violate("not_settled", head=head, behind=behind)
                return
            await asyncio.sleep(0.2)

    async def check(self, phase: int) -> None:
        """The phase's checks, read again (settled again first) when the chain's head moved
        while they read: the chain's states are read before the nodes, so a node's match
        landing in between showed every node ahead of the chain (chaos63: seed 4, a node
        rematching orders a reorg reopened 0.4 s after its head was saved, after two quiet
        passes)."""
        self.note(f"check after phase {phase}")
        for attempt in range(1, CHECK_TRIES + 1):
            before, head = len(self.violations), self.head()
            await self.check_once(phase)
            if self.head() == head or attempt == CHECK_TRIES:
                break
            del self.violations[before:]
            self.count("check_again_chain_moved")
            self.note(f"chain moved during the check ({head} -> {self.head()}): again")
            await self.settle()
        self.check_logs(phase)

    async def check_once(self, phase: int) -> None:
        orders = [a.signed for a in self.acked]
        states = []
        for k in range(0, len(orders), 100):
            states += self.c.exchange.order_states(orders[k : k + 100])
        chain = {s.hash: s for s in states}
        for i in range(3):
            api = self.net.api(i)
            for a in self.acked:
                code, rec = await api.get(f"/v1/orders/{a.signed.hash_hex}")
                if code == 404:
                    if a.node == i:
                        self.violate(
                            "acked_order_lost", phase=phase, node=i, order=a.signed.hash_hex
                        )
                    continue
                if code != 200:
                    self.violate("order_read", phase=phase, node=i, code=code, body=str(rec)[:300])
                    continue
                self.compare(phase, i, a, rec["metaData"], chain[a.signed.hash])
            await self.check_fills(phase, i)
        report = await asyncio.to_thread(
            audit_network, self.c.deployment, self.net.urls, sync_timeout=20.0
        )
        for d in report.discrepancies:
            self.violate("audit", phase=phase, finding=d.to_json())

    def compare(self, phase: int, i: int, a: Acked, meta: dict[str, Any], st: Any) -> None:
        status = meta["status"]
        filled = int(meta["filledMakerAmount"])
        amount = a.signed.order.maker_amount
        ok_status = {
            OrderStatus.FILLED: {"filled"},
            OrderStatus.CANCELLED: {"cancelled", "removed", "filled"},
            OrderStatus.EXPIRED: {"expired", "cancelled", "removed", "filled"},
            OrderStatus.FILLABLE: {
                "open", "partially_filled", "unfunded", "cancelled", "removed", "filled",
            },
        }.get(st.status, set())  # fmt: skip
        if a.signed.hash in self.soft_cancelled:  # (cancel62: the cancel binds the nodes, not
            ok_status = ok_status | {"cancelled"}  # the chain; the chain's filled amount)
        bad = filled != st.filled or status not in ok_status
        dust = st.filled * 100 >= amount * 99  # (a remainder too small to trade: "filled")
        if status == "filled" and st.status == OrderStatus.FILLABLE and not dust:
            bad = True
        if status == "partially_filled" and st.filled == 0:
            bad = True
        if bad:
            self.violate(
                "state_mismatch", phase=phase, node=i, order=a.signed.hash_hex, tif=a.tif,
                acked_at=a.node, node_status=status, node_filled=filled,
                chain_status=st.status.name, chain_filled=st.filled, amount=amount,
            )  # fmt: skip

    async def check_fills(self, phase: int, i: int) -> None:
        api = self.net.api(i)
        cursor: str | None = None
        receipts: dict[str, Any] = {}
        while True:
            params: dict[str, Any] = {"perPage": 1000}
            if cursor:
                params["cursor"] = cursor
            body = await api.listing("/v1/fills", **params)
            for f in body["records"]:
                tx = f["transactionHash"].lower()
                if tx not in receipts:
                    receipts[tx] = self.c.rpc.call("eth_getTransactionReceipt", tx)
                rc = receipts[tx]
                ok = (
                    rc is not None
                    and rc["status"] == "0x1"
                    and int(rc["blockNumber"], 16) == int(f["blockNumber"])
                    and any(int(lg["logIndex"], 16) == int(f["logIndex"]) for lg in rc["logs"])
                )
                if not ok:
                    self.violate(
                        "fill_not_on_chain", phase=phase, node=i, fill=f,
                        receipt_block=None if rc is None else int(rc["blockNumber"], 16),
                    )  # fmt: skip
            cursor = body.get("next")
            if not cursor:
                return

    def tally_operators(self) -> None:
        """The nodes' transactions mined since the last tally, counted: those reverted
        (``operator_reverted``, the operator's gas paid for nothing) and each batch match the
        Exchange skipped, by its reason (``skipped_<name>``); each listed (``paid``), for the
        run's reader. Not a violation: two nodes that settle the same crossing at once (one
        reverted: PRODUCT.md's double spend), or a maker's funds moved away between the
        signing and the block, are the world's doing, not a node's defect."""
        ops = {self.c.address(k).lower(): i for i, k in enumerate(OPERATORS)}
        head = self.head()
        for n in range(self.scanned + 1, head + 1):
            block = self.c.rpc.call("eth_getBlockByNumber", hex(n), True)
            for tx in block["transactions"] if block else []:
                node = ops.get(str(tx["from"]).lower())
                if node is None:
                    continue
                raw = self.c.rpc.call("eth_getTransactionReceipt", tx["hash"])
                rc = Receipt.from_rpc(raw)
                self.count("operator_tx")
                at = (n, int(raw["transactionIndex"], 16))
                if not rc.status:
                    self.count("operator_reverted")
                    why = self.revert_reason(tx["hash"])
                    self.paid.append(
                        f"node {node}'s tx {tx['hash']} reverted in block {n}: {why}"
                        + self.closed_where(why, at)
                    )
                for sk in self.c.exchange.skipped(rc.logs):
                    why = getattr(sk.reason, "name", "unknown")
                    self.count(f"skipped_{why}")
                    self.paid.append(
                        f"node {node}'s match skipped in block {n}: {sk.reason}"
                        + self.closed_where(sk.reason, at)
                    )
        self.scanned = head

    def revert_reason(self, tx_hash: str) -> object:
        """A reverted transaction's reason, decoded (Hardhat's ``debug_traceTransaction``
        replays it in its block): the run's reader tells a race from a predictable revert."""
        try:
            trace = self.c.rpc.call(
                "debug_traceTransaction", tx_hash,
                {"disableStack": True, "disableMemory": True, "disableStorage": True},
            )  # fmt: skip
            data = bytes.fromhex(str(trace.get("returnValue", "")).removeprefix("0x"))
        except Exception as e:  # (a reader's aid only: the tally goes on)
            return f"reason not read ({type(e).__name__})"
        return self.c.exchange.decoder.decode(ContractRevert(data)) if data else "no data"

    def closed_where(self, reason: object, at: tuple[int, int]) -> str:
        """Where the order a revert or skip names (``orderHash``; for ``PricesDoNotCross`` and
        ``ZeroFillAmount`` each of ``leftOrderHash`` and ``rightOrderHash``: either one's rest
        may be the one the amounts came from) was filled or cancelled on chain last before
        ``at`` (block, transaction index): in the same block, before it (a race with another
        pending transaction), or in an earlier block (then the node may have known when it
        signed). chaos77: seed 29's skip named the left order "closed by nothing", its right
        one (a bid three of the batch's matches took) filled earlier in the same block."""
        args = getattr(reason, "args_by_name", {})
        named = [args[k] for k in ("orderHash", "leftOrderHash", "rightOrderHash") if k in args]
        named = [h for h in named if isinstance(h, bytes | str)]
        if not named:
            return ""
        if len(named) == 1:
            return self._closed_one(named[0], at)
        return "".join(
            f" ({side}: {self._closed_one(h, at).removeprefix(' (')}"
            for side, h in zip(("left", "right"), named, strict=False)
        )

    def _closed_one(self, named: bytes | str, at: tuple[int, int]) -> str:
        topic = named if isinstance(named, str) else "0x" + named.hex()
        try:
            logs = self.c.rpc.call(
                "eth_getLogs",
                {"fromBlock": "0x0", "toBlock": hex(at[0]), "address": self.c.exchange.address,
                 "topics": [None, topic]},
            )  # fmt: skip
        except Exception as e:  # (a reader's aid only: the tally goes on)
            return f" (its closing not read: {type(e).__name__})"
        before = [
            (int(lg["blockNumber"], 16), int(lg["transactionIndex"], 16))
            for lg in logs
            if (int(lg["blockNumber"], 16), int(lg["transactionIndex"], 16)) < at
        ]
        if not before:
            return " (closed by nothing on chain before it)"
        block, index = max(before)
        if block == at[0]:
            return f" (closed earlier in the same block, tx {index}: a race)"
        return f" (closed in block {block}, {at[0] - block} before it)"

    def check_logs(self, phase: int) -> None:
        for i in range(3):
            text = (self.net.tmp / f"node-{i}.log").read_text(errors="replace")
            n = text.count("Traceback")
            if n > self.tracebacks[i]:
                at = text.rindex("Traceback")
                self.violate("traceback", phase=phase, node=i, count=n, last=text[at : at + 3000])
                self.tracebacks[i] = n
