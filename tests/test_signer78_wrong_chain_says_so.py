"""signer78: a wrong-chain hold says so as a doubt does: since when, for how long, what to do.

review78 made a ``wrong-chain`` answer hold matching till two polls in a row get through on
our blocks, as a doubt does; but ``/health``'s ``chainMirror.identity`` said ``proven: true``
with ``held`` set, ``since`` null and ``heldFor`` 0, never ``stuck``, and nothing was logged
after the watcher's first word: an operator was not told the node holds, for how long, nor
what to do. Now it says ``proven: false``, since when and for how long, and once it has
stood ``LONG`` (1 s here), ``stuck`` with the advice, logged again every ``LONG`` as an
ERROR; ``chain`` says ``wrong-chain`` at every read, also at the polls that said ok.

Real Hardhat, a real node and SQLite store, a real JSON-RPC proxy on loopback answering
every other poll as a backend with no Exchange yet (a devnet restarted, not deployed to).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from sdex.mirror import doubt
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_review78_wrong_chain_flap import flapping_node


async def test_a_standing_wrong_chain_hold_says_since_when_and_what_to_do(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(doubt, "LONG", 1.0, raising=False)
    caplog.set_level(logging.INFO, logger="sdex")
    c = chain
    async with flapping_node(c, tmp_path / "n.db") as (node, api, said):
        await wait_for(lambda: node.mirror.doubt.wrong != "", timeout=30)
        assert not node.mirror.doubt.why  # (a wrong-chain hold, no doubt)

        async def stuck() -> bool:
            _, health = await api.get("/health")
            return bool(health["chainMirror"]["identity"].get("stuck"))

        _, health = await api.get("/health")
        identity = health["chainMirror"]["identity"]
        assert identity["proven"] is False and identity["held"], identity  # (before: True)
        assert identity["since"] is not None, identity
        await wait_for(stuck, timeout=30)
        _, health = await api.get("/health")
        identity = health["chainMirror"]["identity"]
        assert identity["heldFor"] >= 1.0 and "--rpc" in identity["advice"], identity
        assert "Exchange" in identity["advice"], identity  # (its own advice: no Exchange)

        def logged() -> list[logging.LogRecord]:
            return [r for r in caplog.records if "is not this node's" in r.getMessage()]

        await wait_for(lambda: bool(logged()), timeout=30)  # (polls backed off: a while)
        last = logged()[-1]
        assert last.levelno == logging.ERROR and "--rpc" in last.getMessage()
        polls, chains = said.polls, set()
        async with asyncio.timeout(60):  # (ok and wrong-chain in turn: wrong-chain at each)
            while said.polls < polls + 8:
                chains.add((await api.get("/health"))[1]["chain"])
        assert chains == {"wrong-chain"}, chains

        said.armed.clear()  # the other backend gone: two polls on our blocks, proven ours
        await wait_for(lambda: node.mirror.doubt.held == "", timeout=30)
        _, health = await api.get("/health")
        identity = health["chainMirror"]["identity"]
        assert identity["proven"] is True and identity["heldFor"] == 0, identity
        assert "stuck" not in identity, identity
