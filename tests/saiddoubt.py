"""A doubt of the chain's identity said once, from a proxy's thread, as a failed settlement's
diagnosis reads (the watcher says one so): the set-up of the tests of a diagnosis in a doubt
(doubt100_diagnose_doubt, review101_doubt_pair_counted). Real Hardhat, a real node; the
proxy is left63's ``rows_proxy``."""

from __future__ import annotations

import asyncio

import pytest

from sdex.mirror import doubt as doubt_module
from sdex.node import Node
from tests.nodeutil import wait_for
from tests.test_left63_short_rows import Lies


class SaidDoubt:
    """Every ``ChainDoubt`` made kept (``made``: the node's mirror's, one mirror here), held
    while the test looks (``AGREE`` past reach); ``once`` says ``why`` on the last made, at
    its first call only (``said``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, why: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.why = why
        self.said: list[int] = []
        self.made: list[doubt_module.ChainDoubt] = []
        monkeypatch.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
        init = doubt_module.ChainDoubt.__init__
        made = self.made

        def kept(self: doubt_module.ChainDoubt) -> None:
            init(self)
            made.append(self)

        monkeypatch.setattr(doubt_module.ChainDoubt, "__init__", kept)

    async def say(self) -> None:
        self.made[-1].said(self.why)

    def once(self) -> None:
        """From the proxy's thread: the doubt said (on the node's loop) before it answers."""
        if not self.said:
            self.said.append(1)
            asyncio.run_coroutine_threadsafe(self.say(), self.loop).result(10)


async def diagnosed_in_doubt(node: Node, doubt: SaidDoubt, lies: Lies) -> None:
    """The lied answer given after the doubt was said, the settler idle, the diagnosis done;
    the doubt still held."""
    await wait_for(lambda: bool(doubt.said) and lies["lied"] >= 1, timeout=30)
    await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
    await wait_for(lambda: not node._results_lock.locked(), timeout=30)  # (diagnosed)
    assert node.mirror.doubt is doubt.made[-1] and node.mirror.doubt.held
