"""A chain whose head is one of the node's own blocks, below its head (real Hardhat, SQLite
and the node's websocket; the older ``latest`` answers are the chain's own blocks, injected
into the watcher's reads): a backend a few blocks behind, not a reorg. Nothing is undone,
``/health`` says ``behind`` until the chain answers its head again; a chain rewound to one
of our blocks (``evm_revert``, nothing mined on it) is undone only once it has answered so
for ``BEHIND_SECONDS``. Meanwhile an order that needs a chain read is not judged by
that chain (503 ``CHAIN_UNAVAILABLE``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sdex.watch import fork, loop
from sdex.watch.watcher import Watcher
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import Events, meta, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask
from tests.test_reorg_replay import one_order_node


class Lagging:
    """The watcher's view of the chain made a backend's still at block ``at`` (the real
    chain's own blocks and state at that height): its ``latest`` is that block, it has no
    block above it, and ``eth_getCode`` at ``latest`` is the code at that block."""

    def __init__(self, w: Watcher, at: int) -> None:
        self.lagging, self.answered, self.down = True, 0, False
        self.reorgs: list[int] = []  # the watcher's reorgs as each lagging answer was asked
        real_call, real_batch = w.rpc.call, w.rpc.batch

        async def call(method: str, *params: Any) -> Any:
            if self.down:
                raise OSError("the backend is down")
            if self.lagging and method == "eth_getBlockByNumber" and params[:1] == ("latest",):
                self.answered += 1
                self.reorgs.append(w.reorgs)
                return await real_call(method, hex(at), False)
            return await real_call(method, *params)

        async def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            if self.down:
                raise OSError("the backend is down")
            if not self.lagging:
                return await real_batch(calls)
            asked = [self._asked(method, params) for method, params in calls]
            out = await real_batch([c for c in asked if c is not None])
            got = iter(out)
            return [None if c is None else next(got) for c in asked]

        self.at = at
        w.rpc.call, w.rpc.batch = call, batch  # type: ignore[method-assign]

    def _asked(self, method: str, params: list[Any]) -> tuple[str, list[Any]] | None:
        """The call as the backend at ``at`` answers it: None for a block above it."""
        if method == "eth_getBlockByNumber" and params[0] != "latest":
            return None if int(params[0], 16) > self.at else (method, params)
        if method == "eth_getCode" and params[1:] == ["latest"]:
            return method, [params[0], hex(self.at)]
        return method, params


def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watcher's timers shortened (safety poll 1 s, longest backoff 2 s): the lagging
    answers these tests count and wait through come sooner; what each answer does is the
    same."""
    monkeypatch.setattr(loop, "SUBSCRIBED_POLL", 0.2)
    monkeypatch.setattr(loop, "MAX_BACKOFF", 0.2)


async def health_says(api: Any, want: str) -> bool:
    return bool((await api.get("/health"))[1]["chain"] == want)


@pytest.mark.parametrize(("lag", "on_devnet"), [(1, True), (3, True), (1, False)])
async def test_a_backend_a_few_blocks_behind_is_not_a_reorg(
    chain: Chain, tmp_path: Path, lag: int, on_devnet: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a devnet for less than ``BEHIND_SECONDS``; on a real chain however long (here a
    ``BEHIND_SECONDS`` of 0 on a chain that is taken for a real one)."""
    quick_polls(monkeypatch)
    if on_devnet:
        monkeypatch.setattr(fork, "BEHIND_SECONDS", 600.0)  # (however slow the machine)
    else:
        monkeypatch.setattr(fork, "BEHIND_SECONDS", 0.0)
        monkeypatch.setattr(fork, "DEVNET_CHAIN_IDS", ())
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w = node.watcher
        events = Events(await api.session.ws_connect(api.base + "/v1/ws"))
        try:
            whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
            other = c.sign(ask(c, CAROL, E18, 3100 * E6))
            assert (await api.post_order(whole))[0] == 201
            c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
            if lag > 1:
                c.rpc.call("hardhat_mine", hex(lag - 1))  # the fill `lag` blocks deep
            await synced(node, c)
            assert await api.status(whole) == "filled"
            top = int(c.rpc.call("eth_blockNumber"), 16)
            view = Lagging(w, top - lag)  # (below the fill)
            await wait_for(lambda: health_says(api, "behind"), timeout=20)
            await wait_for(lambda: view.answered >= 4, timeout=20)
            assert (w.reorgs, w.resets) == (0, 0)
            assert await api.status(whole) == "filled"
            # an order whose state the chain behind would answer from its past: not judged
            code, body = await api.post_order(other)
            assert (code, body.get("rejection")) == (503, "CHAIN_UNAVAILABLE"), body
            assert "chain backend is behind" in str(body), body  # (what is true)
            view.lagging = False
            await wait_for(lambda: health_says(api, "ok"), timeout=20)
            assert (await api.post_order(other))[0] == 201
            c.rpc.call("hardhat_mine", hex(1))
            await synced(node, c)
            assert (w.reorgs, w.resets) == (0, 0)
            m = await meta(api, whole)
            assert (m["status"], m["filledMakerAmount"]) == ("filled", str(E18))
            assert (await api.get("/v1/fills"))[1]["total"] == 1
            assert not events.has("fill", "reverted", whole.hash_hex), events.seen
            assert not any(e.get("event") == "reopened" for e in events.seen), events.seen
        finally:
            await events.close()


async def test_a_backend_below_the_deployment_block_costs_polls_and_nothing_else(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend still below the deployment block (no Exchange code, no deployment block)
    answers just as a devnet reset (``tests/test_reorg_hardhat_reset.py``): ``wrong-chain``
    while it does, and nothing undone, reset or dropped; ``ok`` once it answers its head."""
    quick_polls(monkeypatch)
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 600.0)
    c = chain
    async with one_order_node(c, tmp_path) as (node, api, whole):
        w = node.watcher
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        await synced(node, c)
        view = Lagging(w, c.deployment.deploy_block - 1)
        await wait_for(lambda: health_says(api, "wrong-chain"), timeout=20)
        await wait_for(lambda: view.answered >= 3, timeout=20)
        view.lagging = False
        await wait_for(lambda: health_says(api, "ok"), timeout=20)
        c.rpc.call("hardhat_mine", hex(1))
        await synced(node, c)
        assert (w.reorgs, w.resets) == (0, 0)
        assert await api.status(whole) == "filled"
        assert (await api.get("/v1/fills"))[1]["total"] == 1


async def test_a_chain_rewound_to_one_of_our_blocks_is_undone_after_a_while(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``evm_revert`` and nothing mined since: the chain's head is our block below the
    fill's; ``behind`` first, then (after ``BEHIND_SECONDS``, here 1 s) a reorg: the fill
    undone."""
    quick_polls(monkeypatch)
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 1.0)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w = node.watcher
        whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_order(whole))[0] == 201
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        await synced(node, c)
        assert await api.status(whole) == "filled"
        seen: set[str] = set()

        def undone() -> bool:
            seen.add(w.status)
            return w.reorgs == 1

        revert(c, snap)
        await wait_for(undone, timeout=30)
        await synced(node, c)
        assert "behind" in seen and w.resets == 0
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("open", "0")
        assert (await api.get("/v1/fills"))[1]["total"] == 0


async def test_the_wait_for_a_rewind_starts_again_after_an_outage(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A devnet behind, then unreachable for longer than ``BEHIND_SECONDS``, then behind
    again: the first answer from behind after the outage starts the wait again (polls in a
    row), it does not rewind at once on the time the outage took."""
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 0.5)
    c = chain
    async with one_order_node(c, tmp_path) as (node, api, whole):
        w = node.watcher
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        c.rpc.call("hardhat_mine", hex(1))
        await synced(node, c)
        view = Lagging(w, int(c.rpc.call("eth_blockNumber"), 16) - 1)
        await wait_for(lambda: health_says(api, "behind"), timeout=20)
        view.down, outage = True, time.monotonic()
        await wait_for(lambda: health_says(api, "unreachable"), timeout=20)
        await wait_for(lambda: time.monotonic() - outage > 1.0, timeout=20)
        assert w.reorgs == 0
        n, view.down = view.answered, False
        await wait_for(lambda: w.reorgs == 1, timeout=30)  # (behind for 0.5 s: rewound)
        await wait_for(lambda: view.answered >= n + 2, timeout=20)
        assert view.reorgs[n + 1] == 0, view.reorgs[n:]  # (the poll of answer n + 1: none)
        view.lagging = False
        c.rpc.call("hardhat_mine", hex(1))
        await synced(node, c)
        assert await api.status(whole) == "filled"
