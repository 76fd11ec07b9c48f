"""users87: ``sdex cancel`` acts on the node's 503 for a cancel it applied but has not stored.

users86 made the node say so (``cancel_unstored``: the order cancelled in memory, out of its
book, the cancel not stored, the same cancel again safe, 200 when stored; ``orderHash`` and
``status`` in the body). ``sdex cancel`` showed it as a bare error (exit 1) and left the
order's kept copy for ``sdex repost``, which would post again an order whose cancel went on
to the node's peers. Now it sends the same cancel again, a bounded number of times within a
bounded time: stored meanwhile, it says what a 200 says (exit 0); never stored, it says the
order's state and what to do (exit 1). Either way the kept copy goes, as with a 200.

Real Hardhat (the suite's chain), a real node served in-process on loopback (its SQLite
store's writer held by a job waiting on a ``threading.Event``, as users86's test), the CLI in
a thread of this process against the node's URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner, Result

from sdex.cli import main
from sdex.node import Node
from sdex.node.records import SubmitResult
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of, wait_for, writer_stuck
from tests.test_cli_node import key, one_line
from tests.test_node import ALICE


async def _cli(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


def _answers(node: Node) -> list[int]:
    """The statuses of the node's answers to wallets' cancels, as they are made (its own
    ``cancel``, observed: the answer goes out as it is)."""
    seen: list[int] = []
    own = node.cancel

    async def observed(*args: object, **kw: object) -> SubmitResult:
        result = await own(*args, **kw)  # type: ignore[arg-type]
        seen.append(result.status)
        return result

    node.cancel = observed  # type: ignore[method-assign]
    return seen


async def _placed(c: Chain, tmp: Path, node: Node) -> tuple[dict[str, str], list[str], str]:
    """Alice's ask placed through ``sdex order`` (kept in a wallet directory of the
    test's); the CLI's env, the cancel's arguments and the order's hash."""
    deployment = tmp / "devnet.json"
    c.deployment.save(deployment)
    env = {"SDEX_WALLET_DIR": str(tmp / "wallet"), "COLUMNS": "200"}
    at = ["--node", url_of(node), "--key", key(c, ALICE), "--deployment", str(deployment)]
    r = await _cli(env, "order", "sell", "3000", "1", *at)
    assert r.exit_code == 0, r.output
    h = next(w for w in r.output.split() if w.startswith("0x") and len(w) == 66)
    assert (tmp / "wallet" / "orders" / f"{h}.json").is_file()
    return env, ["cancel", h, *at], h


async def test_a_cancel_not_stored_is_sent_again_till_it_is(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _):
        await wait_for(node.replayed, 60)
        env, cancel, h = await _placed(c, tmp_path, node)
        node.store_wait = 1.0  # (its commit wait: a 503 a second after the cancel)
        seen = _answers(node)
        with writer_stuck(node):
            run = asyncio.ensure_future(_cli(env, *cancel))
            await wait_for(lambda: 503 in seen, 60)  # (its first try: applied, not stored)
        r = await run
        assert seen[0] == 503 and seen[-1] == 200, seen
        assert r.exit_code == 0, r.output  # before: 1, the 503 shown as an error
        said = one_line(r.output)
        assert f"order {h} soft-cancelled at the node: status cancelled" in said, said
        assert "sending the same cancel again" in said, said
        assert not (tmp_path / "wallet" / "orders" / f"{h}.json").exists()  # (as a 200's)


async def test_a_cancel_never_stored_says_the_orders_state(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.replayed, 60)
        env, cancel, h = await _placed(c, tmp_path, node)
        node.store_wait = 1.0
        seen = _answers(node)
        with writer_stuck(node, within=120):
            r = await _cli(env, *cancel)
        assert len(seen) > 1 and set(seen) == {503}, seen  # before: one try
        assert r.exit_code == 1, r.output
        said = one_line(r.output)
        assert f"order {h} is cancelled at the node at {url_of(node)}" in said, said
        assert "did not store the cancel" in said and "comes back open" in said, said
        assert f"Run `sdex cancel {h}` again later" in said and "--onchain" in said, said
        assert "kept copy of the order is removed" in said, said
        assert not (tmp_path / "wallet" / "orders" / f"{h}.json").exists()  # before: kept
        r = await _cli(env, *cancel)  # (the store moved: the same cancel is stored now)
        assert r.exit_code == 0, r.output
        assert "already cancelled at the node" in one_line(r.output), r.output
        _, held = await api.get(f"/v1/orders/{h}")
        assert held["metaData"]["status"] == "cancelled"
