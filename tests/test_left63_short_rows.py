"""left63: an endpoint that answers ``getOrderStates`` with other rows than asked, read by a
failed settlement's diagnosis (``NodeBlame._read_failed``, the synchronous
``Exchange.order_states``, which did not count the rows as the intake's reads do). A row
short, the diagnosis looked the missing order up and raised ``KeyError`` out of
``_diagnose``: out of the settler's flight task (the rest of a split batch never
reported), the node's orders not written nor matched again. Now such an answer is refused
(``checked_order_states``) and the diagnosis judges nothing. Real Hardhat, a real node, a
real proxy on loopback that trims the rows."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.node import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.sandwich import GWEI, send_tx
from tests.test_chaos62_stale_in_flight import pending_txs
from tests.test_mirror import Events
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

ROW = 192
"""Bytes of one ``getOrderStates`` row (six words)."""
Lies = dict[str, Any]


def rows(raw: str) -> list[bytearray]:
    """The rows of ``getOrderStates``'s answer ``raw``."""
    data = bytes.fromhex(raw[2:])
    base = int.from_bytes(data[0:32], "big") + 32
    n = int.from_bytes(data[base - 32 : base], "big")
    return [bytearray(data[base + ROW * i : base + ROW * (i + 1)]) for i in range(n)]


def encoded(out: list[bytearray]) -> str:
    """``getOrderStates``'s answer of the rows ``out``."""
    head = (32).to_bytes(32, "big") + len(out).to_bytes(32, "big")
    return "0x" + (head + b"".join(out)).hex()


def trimmed(raw: str) -> str | None:
    """``raw`` with its last row dropped, if it has two or more."""
    out = rows(raw)
    return encoded(out[:-1]) if len(out) >= 2 else None


@contextmanager
def rows_proxy(c: Chain, rewrite: Callable[[str], str | None]) -> Iterator[tuple[str, Lies]]:
    """The URL of a proxy to the chain whose answers to ``getOrderStates`` are ``rewrite``'s
    (where it gives one) while the dict it yields says ``armed``; ``lied`` counts them."""
    selector = "0x" + c.exchange.abi.fn("getOrderStates").selector.hex()
    lies: Lies = {"armed": False, "lied": 0}

    def intercept(req: object) -> Answer | None:
        if not (lies["armed"] and isinstance(req, dict) and req.get("method") == "eth_call"):
            return None
        if not str(req["params"][0].get("data", "")).startswith(selector):
            return None
        fwd = urllib.request.Request(
            c.rpc.url, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answer = resp.status, json.loads(resp.read())
        raw = answer.get("result")
        if isinstance(raw, str) and (lie := rewrite(raw)) is not None:
            answer["result"] = lie
            lies["lied"] += 1
        return status, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        yield url, lies


@asynccontextmanager
async def settlement_failed_by_cancel(
    c: Chain, tmp_path: Path, rewrite: Callable[[str], str | None]
) -> AsyncIterator[tuple[Node, Api, SignedOrder, SignedOrder, Lies, Events]]:
    """A node on ``rows_proxy(rewrite)``: Alice's ask rests; with mining paused she cancels
    it on chain (high tip) and Bob's bid matches it, the proxy armed; one block mined: the
    cancel, then the settlement, which reverts and is diagnosed through the proxy."""
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    buy = c.sign(bid(c, BOB, E18 // 10, 250 * E6), BOB)
    with rows_proxy(c, rewrite) as (rpc, lies):
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            events = Events(await api.session.ws_connect(api.base + "/v1/ws"))
            assert (await api.post_order(sell))[0] == 201
            c.rpc.call("evm_setAutomine", False)
            try:
                data = c.exchange.abi.fn("cancelOrder").encode(sell.order.to_tuple())
                send_tx(c, ALICE, c.exchange.address, data, 200_000, 40 * GWEI)
                assert (await api.post_order(buy))[0] == 201  # matched with `sell`: sent
                await wait_for(lambda: pending_txs(c) == 2, timeout=20)
                lies["armed"] = True
                c.rpc.call("evm_mine")
            finally:
                c.rpc.call("evm_setAutomine", True)
            try:
                yield node, api, sell, buy, lies, events
            finally:
                await events.close()


async def test_a_diagnosis_read_short_of_a_row_is_refused(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The settlement reverts, and its diagnosis reads both orders through a proxy that
    drops the last row (failed before: ``KeyError`` out of the settlement's task, no
    refusal said)."""
    loop = asyncio.get_running_loop()
    escaped: list[BaseException] = []

    def handler(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(e := context.get("exception"), BaseException):
            escaped.append(e)
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    with caplog.at_level(logging.WARNING, "sdex.node"):
        async with settlement_failed_by_cancel(chain, tmp_path, trimmed) as (
            node, api, sell, buy, lies, _,
        ):  # fmt: skip

            def refused() -> bool:
                return "failed matches was refused" in caplog.text

            await wait_for(refused, timeout=30)
            assert lies["lied"] >= 1
            lies["armed"] = False
            # nothing judged on the short answer: the watcher's block closes the ask
            await wait_for(lambda: sell.hash not in node.book, timeout=30)
            assert (await api.status(sell)) == "cancelled"
            assert (await api.status(buy)) == "open"
            await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
            gc.collect()  # (a task's unretrieved exception is said when it is freed)
            assert not escaped, escaped


def overfilled(raw: str) -> str | None:
    """A rewrite: a ``CANCELLED`` row says 10 ETH filled (more than any order here)."""
    out = rows(raw)
    for r in out:
        if int.from_bytes(r[32:64], "big") == 3:
            r[64:96] = (10 * E18).to_bytes(32, "big")
            return encoded(out)
    return None


async def test_an_order_closed_by_the_chain_never_shows_more_filled_than_its_amount(
    chain: Chain, tmp_path: Path
) -> None:
    """The same failed settlement; the proxy says Alice's cancelled ask filled 10 ETH (of
    0.1): the diagnosis closes it ``cancelled`` at its amount at most (failed before: 10
    ETH filled shown)."""
    async with settlement_failed_by_cancel(chain, tmp_path, overfilled) as (
        node, api, sell, _, lies, events,
    ):  # fmt: skip

        def said() -> list[dict[str, Any]]:
            h = sell.hash_hex
            return [
                e["metaData"] for e in events.seen if e.get("metaData", {}).get("orderHash") == h
            ]

        await wait_for(lambda: lies["lied"] >= 1, timeout=30)
        await wait_for(lambda: any(m["status"] == "cancelled" for m in said()), timeout=30)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
        assert (await api.status(sell)) == "cancelled"
        shown = [int(m["filledMakerAmount"]) for m in said()]
        assert max(shown) <= sell.order.maker_amount, shown
