"""doubt102 (review101's second hole): a poll that found our head unchanged while an
account was due a read again (``Mirror.reread_next``, review100b's "stale") skipped the
proof a doubt of the chain's identity waits for (``ours_again``, ``_unreplaced``) and went
through ``_advance`` .. ``apply``: ``_refresh_funds`` read the account's funds, by our head's
number, from an endpoint that may be another chain's, and stored them as exact. Now no poll
is "stale" in a doubt: the account is read again once the doubt ends.

Real Hardhat, a real node on a real proxy on loopback that, while armed, answers every
``balanceOf`` call (the watcher's funds reads, JSON-RPC batches) with 10**30 (the other
chain's word)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.chain.exchange import load_abi
from sdex.mirror import doubt as doubt_module
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, E6, E18, ask
from tests.test_review98b_readback_idle import drain_runs

RICH = 10**30
BOUND = 60.0


@contextmanager
def rich_balances(c: Chain) -> Iterator[tuple[str, dict[str, Any]]]:
    """The URL of a proxy to the chain whose ``balanceOf`` answers are ``RICH`` while the
    dict it yields says ``armed``; ``lied`` counts them."""
    selector = "0x" + load_abi("TestToken").fn("balanceOf").selector.hex()
    lies: dict[str, Any] = {"armed": False, "lied": 0}

    def lying(req: dict[str, Any]) -> bool:
        return req.get("method") == "eth_call" and str(req["params"][0].get("data", "")).startswith(
            selector
        )

    def intercept(req: object) -> Answer | None:
        reqs = req if isinstance(req, list) else [req]
        if not lies["armed"] or not any(isinstance(r, dict) and lying(r) for r in reqs):
            return None
        fwd = urllib.request.Request(
            c.rpc.url, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answer = resp.status, json.loads(resp.read())
        ids = {r.get("id") for r in reqs if isinstance(r, dict) and lying(r)}
        for a in answer if isinstance(answer, list) else [answer]:
            if isinstance(a, dict) and a.get("id") in ids and "result" in a:
                a["result"] = "0x" + RICH.to_bytes(32, "big").hex()
                lies["lied"] += 1
        return status, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        yield url, lies


async def test_no_funds_read_by_a_same_head_poll_in_a_doubt(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's ask rests (her funds learned, wanted); a doubt said, her account due a read
    again, the proxy armed: the watcher's polls find our head unchanged. Before: one read
    her funds (10**30, the other chain's) into the mirror (failed); now they prove the
    doubt's block instead, and read her once the doubt ended (the proxy disarmed)."""
    monkeypatch.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
    sell = chain.sign(ask(chain, ALICE, E18 // 10, 250 * E6), ALICE)
    account = (sell.order.maker, sell.order.maker_token)
    with rich_balances(chain) as (rpc, lies):
        cfg = replace(node_config(chain, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
            await wait_for(node.mirror_ready, BOUND)
            assert (await api.post_order(sell))[0] == 201
            m = node.mirror
            assert account in m.funds and node.watcher.wanted(account)
            was = m.funds[account]
            doubt = m.doubt
            doubt.said("doubt102: another chain's answer")
            lies["armed"] = True
            m.reread_next.add(account)
            await wait_for(lambda: m.funds[account][0] == RICH or doubt._agreed >= 3, BOUND)
            assert doubt.held
            assert m.funds[account][0] != RICH  # (before: read in the doubt, stored exact)
            assert m.funds[account] == was and account in m.reread_next

            lies["armed"] = False
            monkeypatch.setattr(doubt_module, "AGREE", 2)  # (the watcher's polls end it)
            await wait_for(lambda: not doubt.held, BOUND)
            await wait_for(lambda: account not in m.reread_next, BOUND)  # (read once it ended)
            assert m.funds[account][0] != RICH
