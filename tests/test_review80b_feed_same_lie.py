"""review80b: a lying newHeads feed cannot pass its own lie off as the backend's lag.

review80 lifted a lie's distrust once "the chain" had the very block the feed announced
(``Feed.settled``: the reads' backend was behind the feed's). But the poll's latest block
may be the feed's announcement itself (one on our head is taken for the latest, its read of
the range is the check): the announcement was its own witness. A feed that announced the
same forged block on our head again each time it was listened to again had its lie taken
back each time (counted as a lag), its distrust ``DISTRUST`` for ever instead of doubled up
to ``MAX_DISTRUST``, every lie a contradicted poll (a failed doubt check, signing held).

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``)
announcing the forged block; the chain idle between lies (no block borne out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdex.mirror import Header
from sdex.watch import Watcher, feed
from tests.conftest import Chain
from tests.headsproxy import HeadsProxy
from tests.nodeutil import wait_for
from tests.test_sign79_feed import WAIT, forged, head, proxied_node


async def same_lie(proxy: HeadsProxy, w: Watcher, fake: dict[str, Any]) -> float:
    """``fake`` announced once more, found out: the distrust it made, seconds."""
    lies = w.feed.lies + w.feed.lags  # (a lie taken back counts as a lag: either moves)
    assert await proxy.announce(fake) == 1
    await wait_for(lambda: w.feed.lies + w.feed.lags > lies and not w.listening, timeout=WAIT)
    return w.feed.distrust


async def test_the_same_forged_block_again_is_no_lag(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "DISTRUST", 0.5)  # (the test's pace: the rule is the same)
    async with proxied_node(chain, tmp_path) as (proxy, node):
        w = node.watcher
        top = head(chain)
        await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"], WAIT)
        fake = forged(chain, 1)  # (the next block on our head, which the chain never has)
        said = []
        for _ in range(3):
            said.append(await same_lie(proxy, w, fake))
            await wait_for(lambda: w.listening, timeout=WAIT)
        assert head(chain)["hash"] == top["hash"]  # (nothing mined: no block borne out)
        assert w.feed.lags == 0, (w.feed.lags, said)  # before: 2 (its own lie a "lag")
        assert said == [0.5, 1.0, 2.0], said  # before: [0.5, 0.5, 0.5]


async def test_our_head_announced_again_does_not_end_a_run_of_lies(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each lie, once listened to again, the feed says our head again (a block the
    node applied before the lie, read as announced): no block was borne out since the lie,
    and the next lie is distrusted twice as long (before: the old head, read back or applied
    already, ended the run, and a feed saying it between lies was distrusted ``DISTRUST``
    each time for ever)."""
    monkeypatch.setattr(feed, "DISTRUST", 0.5)
    async with proxied_node(chain, tmp_path) as (proxy, node):
        w = node.watcher
        top = head(chain)
        await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"], WAIT)
        seen: list[tuple[str, bool]] = []  # (the poll's latest blocks: observed only)
        saw = w._saw_latest

        def observed(latest: Header, asked: bool = True) -> None:
            saw(latest, asked)
            seen.append((latest.hash, asked))

        monkeypatch.setattr(w, "_saw_latest", observed)
        said = []
        for _ in range(3):
            said.append(await same_lie(proxy, w, forged(chain, 1)))
            await wait_for(lambda: w.listening, timeout=WAIT)
            seen.clear()
            assert await proxy.announce(top) == 1  # (our head, said again)
            await wait_for(lambda: (top["hash"], False) in seen, timeout=WAIT)  # (its poll)
        assert head(chain)["hash"] == top["hash"]  # (nothing mined: no block borne out)
        assert said == [0.5, 1.0, 2.0], said  # before: [0.5, 0.5, 0.5]
