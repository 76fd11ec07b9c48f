"""review88 (watch87): the told head's proof (``Watcher._proven_below``: ``AGREE`` reads of
the head, each on a connection of its own) is awaited inside the poll, between the poll's
answer for the latest block and the applying of it (``poll_once``). A send's ask answered
once far above the chain (watch87's phantom) and the head reads apart left unanswered (a
backend that takes new connections and answers none, or slowly) stop the watcher for the
read's whole bound (``stall``, 5 s) at each try, every ``TOLD_AGAIN`` seconds: each block
announced meanwhile is known and not applied, signing held, the book behind the chain, for
as long as the phantom stands (the proof never succeeds). watch88: the proof runs as a
task of its own (``Watcher._prove``: one at a time, cancelled at the stop), the poll going
on; once the reads are answered it lowers ``told`` as before.

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``),
which holds the reads apart (``eth_blockNumber`` after the phantom's) as a hung backend;
the read's bound raised so the hold, not the clock, is the subject."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_sign79_feed import WAIT, pay, until_applied
from tests.toldhead import at_head, proof_held


async def test_a_told_proofs_unanswered_read_does_not_stop_the_poll(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with at_head(c, tmp_path) as (proxy, node, top):
        w, u = node.watcher, node.watcher.unapplied
        w.stall = 600.0  # (a read apart waits as long as the proxy holds it)
        phantom = proof_held(proxy, node, top)  # (the send's ask: one wrong answer)
        held = proxy.held
        try:
            await w.before_send()
            assert proxy.numbers == [] and u.told == phantom, (proxy.numbers, u.told)
            b = pay(c, 1)  # (announced: the poll that takes it tries the proof first)
            await wait_for(lambda: proxy.held > held, timeout=WAIT)  # (a read apart, held)
            # main: the poll awaited the held read: b known, not applied, signing held
            await until_applied(w, b)
            assert proxy.hold_ranges and proxy.held > held  # (still held meanwhile)
        finally:
            await proxy.free()
        await wait_for(lambda: u.told < phantom, timeout=WAIT)  # (the reads answered now)
