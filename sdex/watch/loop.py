"""When the watcher polls, and what it says of the chain: the loop around ``poll_once``.

Each turn runs one poll (``Watcher.poll_once``: what is new on the chain, into the mirror
and the node), sorts its failure into a status (``unreachable``, ``behind``,
``wrong-chain``, ``failing``; one log line per change), and waits: for the next newHeads
announcement (``sdex.watch.heads``; a slow safety poll behind it), the poll interval, a
moment for our own receipt (``RECEIPT_WAIT``), or a backoff while the chain is down (up to
``MAX_BACKOFF``). A poll's read left unanswered ``STALL`` seconds (a hung chain that took
the connection) says ``unreachable`` while it waits on. A proven chain reset says
``replaying`` from the moment it is proven until a poll reaches the new chain's head
(``replaying``), and so does a catch-up of more than ``CATCH_UP_LAG`` blocks once the chain
answers again after an outage (or is past our head again after ``behind``). What a poll
reads and applies is ``sdex.watch.watcher``'s."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import time
from collections.abc import Callable

import aiohttp
import yarl

from sdex.chain.arpc import AsyncRpc
from sdex.chain.rpc import quantity
from sdex.errors import ChainError
from sdex.mirror import Header, Mirror
from sdex.store import StoreError
from sdex.watch.blocks import Contradicted, Inconsistent, ReceiptComing, known_parent
from sdex.watch.changes import STORE_WAIT, ChainReset
from sdex.watch.feed import Feed
from sdex.watch.fork import Behind, describe
from sdex.watch.heads import follow_heads
from sdex.watch.unapplied import Unapplied

log = logging.getLogger("sdex.watch")

MAX_BACKOFF = 2.0
"""Longest wait between attempts while the chain is unreachable."""
SUBSCRIBED_POLL = 1.0
"""Seconds between safety polls while a newHeads subscription is live."""
RECEIPT_WAIT = 0.05
"""Seconds a block announced on top of our head waits for our settlement's receipt, or our
receipt for its block's announcement (once a block)."""
STALL = 5.0
"""Seconds a poll's read may go unanswered (the RPC took it and says nothing: a hung or
paused server) before the chain is said ``unreachable``; the read still waits for its answer
(the client's timeout), which says ``ok`` again. An idle node's safety poll comes every
``SUBSCRIBED_POLL``: a hang shows within about both. A chain that answers with no new block
is not stalled; nor is one that answers another read (``eth_blockNumber``, asked once a
read has been unanswered this long) during a reset's replay, whose reads of a long chain
are long: then a hang says ``unreachable`` after twice this."""
LATE = 0.5
"""Seconds late the stall check (``_stalled``) may run and still judge the chain: later, the
node's own loop lost that time (its process stopped or starved of CPU, the loop blocked),
and an answer the chain sent meanwhile may wait unread in its socket; looked at again
``AGAIN`` later, once the loop has read what came (watch89: a node stopped past ``STALL``
said the chain ``unreachable`` as it resumed, its answer there all along)."""
AGAIN = 0.05
"""Seconds after a late stall check (``LATE``) before it is made again."""
CATCH_UP_LAG = 2
"""Blocks the chain may be past our head when it is followed again (its answer after
``NOT_FOLLOWED``) without a catch-up said ``replaying``: the node's mirror judges orders at
that lag, and no more (``sdex.node.records.MIRROR_MAX_LAG`` is this number: replay80)."""
NOT_FOLLOWED = frozenset({"unreachable", "behind"})
"""Statuses after which a poll that finds the chain past our head catches up (``replaying``)."""
HEAD_FRESH = 0.005
"""Seconds a head the chain told the watcher (an announcement, a poll's answer, a send's own
ask) stays fresh for a send: older, a send asks the head first (``before_send``). With
newHeads too: an announcement reaches the node a loop turn or more after its block is mined
(revert79's race bench: 3-5 paid reverts in 64 races with the ask, 10-12 without). An
announcement counts only while the feed is on time (``Unapplied.announced``: watch82)."""
SEND_WAIT = 1.0
"""Seconds at most a signed settlement's send waits for a block known and not applied
(``before_send``); past it, it goes as signed (the signing's ``BOUND`` holds no more)."""
INCONSISTENT_POLLS = 5
"""Polls in a row that found the chain's answers inconsistent (not an own receipt awaited)
before the watcher says so: ``unreachable``, until a poll gets through."""


class PollLoop:
    """The polling loop and the chain's status; ``poll_once`` is the subclass's."""

    def __init__(self, rpc: AsyncRpc, mirror: Mirror, poll_interval: float, subscribe: bool):
        self.rpc = rpc
        self.mirror = mirror
        self.poll_interval = poll_interval
        self.subscribe = subscribe and poll_interval <= SUBSCRIBED_POLL  # (else a slow one)
        self.chain_head = 0  # the latest block number the chain reported
        self.unapplied = Unapplied()
        """Blocks known and not applied by the node yet: signing held meanwhile (behind77)."""
        self.store_wait = STORE_WAIT  # (``durable``: then /health says the store stalls)
        self.stall = STALL  # (seconds a poll's read may go unanswered: ``STALL``)
        self.status = "ok"
        """``ok``, ``unreachable`` (the RPC does not answer, leaves a read unanswered for
        ``STALL`` seconds, or answers inconsistently poll after poll), ``behind`` (its head
        below ours, on our chain as far as it shows: a lagging backend; a devnet's reset or
        rewound after ``BEHIND_SECONDS``),
        ``wrong-chain`` (no Exchange: a devnet reset not deployed again), or ``failing``
        (the store refused a write, or a defect), ``replaying`` (a chain reset proven: the
        new chain read from the deployment block; a catch-up after ``NOT_FOLLOWED``;
        ``caught_up`` clear, till a poll reaches its head; ``replaying``)."""
        self.problem = ""
        self.unreachable = asyncio.Event()
        """Set while the status is ``unreachable``: chain reads under way fail at once
        (``sdex.ingest.intake.Intake``), not after the RPC client's own timeout."""
        self.caught_up = asyncio.Event()
        self._replay = ""
        """Why, while a proven reset's replay is under way (``replaying``): the status a
        poll that gets through says till one reaches the chain's head."""
        self._probe: asyncio.Task[object] | None = None  # (``_stalled`` during a replay)
        self.failures = 0  # polls that failed (chain unreachable, or the node could not apply)
        self._moving = 0  # polls in a row that found the chain's answers inconsistent
        self._behind_since: float | None = None  # since when polls in a row found it behind
        self._was_behind: float | None = None  # (that, as the poll under way started)
        self.subscribed = False
        self._new_head = asyncio.Event()
        self._watchdog: asyncio.TimerHandle | None = None  # (``_stalled``, while polling)
        self._due = 0.0  # (the loop's time the watchdog is due: how late it runs, ``LATE``)
        self.lost = 0.0
        """Seconds the node's own loop lost at stall checks, since the start (``LATE``)."""
        self._late_since: float | None = None  # (the loop's time of the first late check in a row)
        self._silent_since: float | None = None  # (wall clock) the chain's silence began
        self._notified: Header | None = None
        """The last header a newHeads notification brought, not polled yet."""
        self.feed = Feed()
        """The headers announced and polled, and whether the feed is believed (sign79)."""
        self.lied: Callable[[int], None] = lambda latest: None
        """Called with the chain's latest block as a poll asks it after a lie of the feed was
        found: no chain word read meanwhile is of a block past it (sign79)."""
        self._deferring, self._deferred = False, ""
        """The hash of the last announced block left for our receipt (once per block)."""
        self.proved = False
        """(In doubt) The poll under way found our head unchanged and read the doubt's block
        again as ours (``sdex.watch.fork.ours_again``): evidence, as blocks applied are."""

    async def poll_once(self) -> bool:
        """Apply what is new; False when there was nothing."""
        raise NotImplementedError

    def _holding(self) -> bool:
        """Whether changes the node has not applied yet are held for the next poll."""
        return False

    def _proving(self) -> bool:
        """Whether a replaced mark was read as ours and awaits the next poll's agreement
        (``Watcher._unreplaced``): that poll comes after ``poll_interval``, not the
        subscribed safety poll's second."""
        return False

    def replaying(self, why: str) -> None:
        """A replay begins (``why``: a chain reset proven, the new chain read from the
        deployment block; a reorg after ``behind``; a catch-up after an outage), a long
        poll. Said from now on, ``caught_up`` cleared as at the start's replay (wallet
        orders wait for it, bounded: ``sdex.node.replayhold``; one read meanwhile is learnt
        once the replay passes it), till a poll reaches the chain's head. status78: a
        ``behind`` of the poll before the reset stood through the whole replay, intake
        refusing every order that needed a read ("its chain backend is behind the chain":
        it was ahead), and a long read of the replay said ``unreachable`` after ``STALL``
        though the chain answered."""
        self._replay = why
        self.caught_up.clear()
        self._set_status("replaying", why)

    def _set_status(self, status: str, problem: str = "") -> None:
        if status != self.status:
            if status == "ok" and self.status == "replaying":
                log.warning("chain %s replayed to block %d", self.rpc.url, self.chain_head)
            elif status == "replaying":  # (from unreachable: it answers again, a reset found)
                again = " reachable again," if self.status == "unreachable" else ""
                log.warning("chain %s%s replaying: %s", self.rpc.url, again, problem)
            elif status == "ok":
                log.warning("chain %s reachable again (block %d)", self.rpc.url, self.chain_head)
            else:
                log.warning("chain %s %s: %s; retrying", self.rpc.url, status, problem)
        self.status = status
        self.problem = problem
        self.mirror.doubt.wrong_chain(problem if status == "wrong-chain" else "")
        if status == "unreachable":
            self.unreachable.set()
        else:
            self.unreachable.clear()
        if status == "ok":
            self._silent_since = None

    async def run(self) -> None:
        sub: asyncio.Task[None] | None = None
        if self.subscribe:
            sub = asyncio.create_task(
                follow_heads(self.rpc.url, self._on_head, self._on_subscribed), name="newHeads"
            )
        backoff = self.poll_interval
        try:
            while True:
                try:
                    self._new_head.clear()
                    self._was_behind, self._behind_since = self._behind_since, None
                    live = self.listening  # (then every block from now on is announced)
                    self._late_since = None  # (a row of late checks is a poll's)
                    self._watch(self.stall)
                    self.proved = False
                    try:
                        progressed = await self.poll_once()
                    finally:
                        if self._watchdog is not None:
                            self._watchdog.cancel()
                        if self._probe is not None:
                            self._probe.cancel()
                            self._probe = None
                        self.mirror.doubt.tick()  # (one that stands for long: said again)
                    if not self._deferring:  # (a deferred poll read nothing: no verdict)
                        replay = self._replay  # (a reset's replay: said till it is done)
                        self._set_status("replaying" if replay else "ok", replay)
                        # (evidence of our chain ends a doubt: doubt78)
                        self.mirror.doubt.through(progressed or self.proved)
                        backoff, self._moving = self.poll_interval, 0
                except asyncio.CancelledError:
                    raise
                except Inconsistent as e:  # the chain moved under a read: read again
                    log.debug("%s", e)
                    if isinstance(e, Contradicted):  # (the feed lies: polled meanwhile)
                        self.feed.contradicted(e.header, str(e), e.lag)
                        self.mirror.announced.lied()  # (its fee not signed with: watch80)
                    progressed = False
                    self._moving += not isinstance(e, ReceiptComing)
                    if not isinstance(e, ReceiptComing):  # (answers disagreed: no row)
                        self.mirror.doubt.failed()
                    if self._moving >= INCONSISTENT_POLLS:  # (not moving: answering wrong)
                        why = f"{self._moving} polls in a row inconsistent: {describe(e)}"
                        backoff = self._fail("unreachable", why, backoff)
                except (StoreError, sqlite3.Error) as e:  # the database refused: tried again
                    why = f"the store: {describe(e)}"
                    progressed, backoff = False, self._fail("failing", why, backoff)
                except ChainReset as e:
                    progressed, backoff = False, self._fail("wrong-chain", str(e), backoff)
                except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
                    # (sorted as ``status_of`` says: a refused connection in words, user38)
                    progressed, backoff = False, self._fail(*status_of(e, self.rpc.url), backoff)
                except Exception as e:  # a defect: say it once, with its traceback, and retry
                    if self.status != "failing":
                        log.exception("applying the chain's changes failed; retrying")
                        self.status = "failing"  # (logged: not again by ``_fail``)
                    progressed, backoff = False, self._fail("failing", describe(e), backoff)
                if progressed and not (live and self._up_to_date()):
                    continue  # (more may have come: "latest" asked, unless announced)
                if self._deferring:  # a moment for our receipt of the announced block
                    self._deferring = False
                    wait = RECEIPT_WAIT
                elif self.status in ("ok", "replaying"):
                    if self._replay:  # (at the chain's head: the replay is done)
                        self._replay = ""
                        self._set_status("ok")
                    self.caught_up.set()
                    slow = self.listening and not self._proving()
                    wait = SUBSCRIBED_POLL if slow else self.poll_interval
                else:
                    wait = backoff
                # (not ``wait_for``: on 3.11 it swallows a cancel that comes in the turn the
                # head does, and the node's stop waited for a watcher that polled on)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._new_head.wait()
        finally:
            if sub is not None:
                sub.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sub

    def _watch(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._due = loop.time() + delay
        self._watchdog = loop.call_later(delay, self._stalled)

    def _stalled(self) -> None:
        """``STALL`` seconds into a poll: when its reads have had no answer that long, the
        chain is ``unreachable`` (the poll goes on waiting); else looked at again when they
        would have been unanswered that long. Run more than ``LATE`` late, the node lost
        the time, not the chain: looked at again ``AGAIN`` later, what came meanwhile read
        (an answer still unread then was not sent: the chain's silence is real). Late in a
        row for ``STALL`` seconds (a loop starved for good), the loop read its sockets at each
        turn meanwhile: the read's silence since the first is judged (review91: put off at
        each, a hang was said only at the read's timeout, 30 s)."""
        now = asyncio.get_running_loop().time()
        late, quiet = now - self._due, self.rpc.unanswered_for()
        if late <= LATE:
            self._late_since = None
        elif self._late_since is None or now - self._late_since < self.stall:
            self.lost += late
            self._late_since = now if self._late_since is None else self._late_since
            (log.warning if quiet >= self.stall else log.debug)(  # (before watch89: blamed)
                "the node's own loop lost %.1f s (its process stopped, starved or blocked): "
                "the chain's silence not judged before the loop read what came", late
            )  # fmt: skip
            self._watch(AGAIN)
            return
        else:  # (late in a row ``STALL`` long: the loop read its sockets meanwhile: review91)
            self.lost += late
            quiet = min(quiet, now - self._late_since)
        if quiet < self.stall:
            self._watch(self.stall - quiet)
            return
        p = self._probe  # (a long read of the replay, or a hang: does the chain answer?)
        if self._replay and (p is None or (p.done() and p.result() is not None)):
            self._probe = asyncio.ensure_future(self._answers())
            self._watch(self.stall)
            return
        if self._silent_since is None:  # (kept across the reads that time out meanwhile)
            self._silent_since = time.time() - quiet
        since = time.strftime("%H:%M:%S", time.gmtime(self._silent_since))
        over = f"for over {self.stall:g} s (since {since} UTC)"
        why = f"it has not answered a read {over}: hung or paused"
        self._set_status("unreachable", why)

    async def _answers(self) -> object:
        """(A replay's read unanswered ``STALL`` seconds) A read of the chain's block number:
        its answer is heard (``AsyncRpc.unanswered_for``), the replay's read only long."""
        try:
            return await self.rpc.call("eth_blockNumber", timeout=2 * self.stall)
        except Exception:  # (no answer: ``_stalled`` says unreachable)
            return None

    def _up_to_date(self) -> bool:
        """After a poll that applied blocks, newHeads live since before it: nothing newer
        was announced, and it reached the head it saw. No poll at once (it would ask for
        "latest", one request a block on automine): the next announcement wakes one."""
        head = self.mirror.head
        return (
            self.listening and self._notified is None and not self._holding()
            and head is not None and head.number >= self.chain_head
        )  # fmt: skip

    def failed_before_run(self, e: Exception) -> None:
        """A poll made before ``run`` (the start's ``catch_up``) failed with ``e``: the status
        ``run`` would give it, so ``/health`` does not say ``ok`` of a chain the node could
        not read, nor of a book judged as the saved mirror had it (review25: it said ``ok``
        until ``run``'s first poll failed too, up to the RPC client's 30 s later)."""
        status, problem = status_of(e, self.rpc.url)
        self._fail(status, f"catching up at start: {problem}", self.poll_interval)

    def _fail(self, status: str, problem: str, backoff: float) -> float:
        """A failed poll: ``status`` (logged when it changes); the next, longer backoff."""
        self.failures += 1
        self._set_status(status, problem)
        return min(max(backoff, 0.1) * 2, MAX_BACKOFF)

    def stalled(self, what: str = "the poll's writes", wait: float = 0.0) -> None:
        self._set_status("failing", f"the store holds {what} over {wait or self.store_wait:g} s")

    def _on_head(self, header: Header | None) -> None:
        if header is not None and not self.feed.heard(header):
            return  # (a feed caught in a lie: not listened to for a while, sign79)
        self._notified = header
        self._new_head.set()
        if header is not None:  # (another block than ours there, nor the chain's last word)
            ours, said = self._kept_at(header.number), self.feed.polled
            told = said is not None and (said.number, said.hash) == (header.number, header.hash)
            self.unapplied.announced(header.number, ours not in (None, header.hash) and not told)
            self.mirror.announced.announce(header.hash, header.base_fee, header.number)

    def _receipt_came(self, poll: bool = True) -> None:
        """An own settlement's receipt came (or will not): the poll it may wait for woken
        (``poll``: not for a block applied, watch96), and a signing held behind that
        receipt's block freed once the receipt is in (after this call: ``Unapplied.own``)."""
        if poll:
            self._new_head.set()
        with contextlib.suppress(RuntimeError):  # (no loop running: no settler waiting)
            asyncio.get_running_loop().call_soon(self.unapplied.ended)

    def _saw_latest(self, latest: Header, asked: bool = True) -> None:
        """A poll's answer for the latest block (``Unapplied.saw``; its header kept);
        ``asked``: the chain's own answer, not an announcement taken for it. One more than
        ``CATCH_UP_LAG`` blocks past our head after the chain was not followed begins a
        catch-up said ``replaying`` (``replaying``) till a poll reaches the head. outage79:
        the catch-up after an outage stood under ``unreachable`` (intake refused every
        wallet order that needed a read, 503 "it cannot reach the chain", though it
        answered) and ``caught_up`` set, so nothing waited for it (``sdex.node.replayhold``)."""
        self.feed.borne(self.mirror.head)  # (applied since: one announced after a lie?)
        self.feed.answered(latest)
        # (the chain's word only: an announcement taken for the latest is no witness to
        # itself; review80b: a feed announcing the same forged block on our head again had
        # its lie taken back as a lag each time, its distrust never doubled)
        said = latest.hash if asked else None
        self.feed.settled(lambda n: said if n == latest.number and said else self._kept_at(n))
        h = self.mirror.head
        if h is not None and latest.number <= h.number and latest.hash != h.hash:
            kept = {b.header.number: b.header.hash for b in self.mirror.blocks}
            if kept.get(latest.number, latest.hash) != latest.hash:  # (ours: a backend behind)
                self.unapplied.replaced(latest.number)  # (a reorg: sign79)
        elif h is not None and off(h, latest):  # (our head not the chain's: review80)
            self.unapplied.replaced(h.number)
        if asked and self.feed.owed:
            self.feed.owed = False
            self.lied(latest.number)
        # (an announcement taken for the latest: no chain's word that it went back below
        # the blocks known above it, which a late feed's is not: watch82)
        self.unapplied.saw(latest.number, polled=asked, feed=not asked)
        head, was = self.mirror.head, self.status
        gap = -1 if head is None else latest.number - head.number
        if was in NOT_FOLLOWED and not self._replay and head is not None and gap > CATCH_UP_LAG:
            self.replaying(f"catching up {gap} blocks from block {head.number + 1} ({was})")

    def _kept_at(self, number: int) -> str | None:
        """The hash of the mirror's block at ``number`` (None: not kept)."""
        return next((b.header.hash for b in self.mirror.blocks if b.header.number == number), None)

    def announced_root(self, number: int) -> str:
        """The ``transactionsRoot`` of block ``number`` as the headers last heard have it
        (``Feed.root``; "": not known, or only a stale announcement: sign79)."""
        return self.feed.root(number)

    @property
    def listening(self) -> bool:
        """Whether announcements stand for new heads: subscribed, and the feed believed."""
        return self.subscribed and self.feed.trusted()

    async def before_send(self) -> None:
        """(A signed settlement's, right before its send) The book brought to the chain's
        head as far as the node can know it cheaply: the last head heard older than
        ``HEAD_FRESH``, the head asked (one ``eth_blockNumber``; a block above the book is
        known then, and polled for at once); then until every known block not the node's
        own is applied (``Unapplied.settled``, ``SEND_WAIT`` at most). revert79: a block
        mined after the signature, or before it and not yet heard (a loop turn with
        newHeads, up to the 50 ms poll without), closed an order of the settlement, which
        reverted, the operator paying; the settler now looks at its matches again after
        this."""
        if time.monotonic() - self.unapplied.heard > HEAD_FRESH:
            try:
                async with asyncio.timeout(SEND_WAIT):
                    number = quantity(await self.rpc.call("eth_blockNumber"))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # (no answer: it goes as signed; the poll says why)
                log.debug("head not read before a send: %s", e)
            else:
                self.unapplied.saw(number)
                self.unapplied.heard = time.monotonic()  # (the chain's own word, as polled)
                head = self.mirror.head
                if head is None or number > head.number:
                    self._new_head.set()  # (read now, not at the next poll)
        await self.unapplied.settled(SEND_WAIT)

    def _on_subscribed(self, live: bool) -> None:
        self.subscribed = self.mirror.announced.live = live


def status_of(e: Exception, url: str = "") -> tuple[str, str]:
    """The status and problem a failed poll's ``e`` (reading the chain at ``url``) gives (as
    ``PollLoop.run`` sorts them; one poll's inconsistent read counts as unreachable here: it
    did not get through)."""
    if isinstance(e, StoreError | sqlite3.Error):
        return "failing", f"the store: {describe(e)}"
    if isinstance(e, ChainReset):
        return "wrong-chain", str(e)
    if isinstance(e, Behind):
        return "behind", describe(e)
    if isinstance(e, aiohttp.ClientConnectorError):  # (user31: aiohttp's words on the page)
        why = os.strerror(e.errno) if e.errno else describe(e.os_error)
        return "unreachable", f"cannot connect to {e.host}:{e.port}: {why}"
    if isinstance(e, ConnectionResetError) or (
        isinstance(e, aiohttp.ClientOSError) and e.errno == errno.ECONNRESET
    ):  # (user38: a kept-alive connection the stopping chain reset, in aiohttp's words)
        return (
            "unreachable",
            f"connection to {_where(url)} reset: the chain's node closed it (stopping?)",
        )
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return "unreachable", f"connection to {_where(url)} closed before an answer"
    read = Inconsistent | aiohttp.ClientError | OSError | TimeoutError | ChainError | ValueError
    if isinstance(e, read):
        return "unreachable", describe(e)
    return "failing", describe(e)


def off(head: Header, latest: Header) -> bool:
    """Whether ``latest``, the block after ``head``'s number, is on another block than
    ``head`` (a reorg under it: review80, the head was taken as applied and a block of our
    own settlement alone on the new branch held nothing while the reorg was read)."""
    after = latest.number == head.number + 1
    return after and known_parent(latest.parent) and latest.parent != head.hash


def _where(url: str) -> str:
    """``url``'s host:port (the chain's node), or "the chain" without one."""
    try:
        u = yarl.URL(url)
    except (TypeError, ValueError):
        return "the chain"
    return f"{u.host}:{u.port}" if u.host else "the chain"
