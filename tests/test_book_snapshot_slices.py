"""A book subscription's snapshot of many levels is built in slices (``sdex.node.bookfeed``,
``SLICE_LEVELS``): the loop runs other work between them, the snapshot is the book as of its
``seq`` (the instant of the subscribe), and the deltas made while it was built follow it, in
order. A real ``OrderBook``, ``EventHub`` and ``BookFeed`` on a running loop."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sdex.book import OrderBook, RemovalReason, Side
from sdex.node import bookfeed
from sdex.node.bookfeed import BookFeed
from sdex.node.events import EventHub, Subscription
from tests.test_book import BASE, MAKERS, QUOTE, ask, bid

SLICE = 64


def book_of(asks: int, bids: int) -> tuple[OrderBook, list[Any]]:
    book = OrderBook([(BASE, QUOTE)], default_funds=None)
    orders = [ask(MAKERS[i % 6], 10, 2000 + i) for i in range(asks)]
    orders += [bid(MAKERS[i % 6], 10, 1000 - i) for i in range(bids)]
    for o in orders:
        book.add(o)
    return book, orders


def levels(book: OrderBook, side: Side) -> list[list[str]]:
    return bookfeed.levels_json(book.pair(BASE, QUOTE).totals(side))


async def next_event(sub: Subscription) -> dict[str, Any]:
    item = await asyncio.wait_for(sub.queue.get(), 5)
    assert item is not None
    event = json.loads(item.text())
    assert event == item.event  # the text made in slices says what the event holds
    return dict(event)


@pytest.mark.asyncio
async def test_a_large_snapshot_is_built_in_slices_and_deltas_follow_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bookfeed, "SLICE_LEVELS", SLICE)
    book, orders = book_of(700, 300)  # 1,000 levels: 16 slices
    hub = EventHub()
    feed = BookFeed(book, hub, tick=0.001)
    want = {"bids": levels(book, Side.BID), "asks": levels(book, Side.ASK)}
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    try:
        sub = hub.subscribe()
        charged = feed.subscribe(sub, (BASE, QUOTE))
        assert charged >= 1000 and sub.queue.empty()  # (not built yet)
        # the book moves while the snapshot is built: a new level, a level gone
        book.add(ask(MAKERS[0], 10, 1500))
        book.remove(orders[0].hash, RemovalReason.CANCELLED)
        hub.changed()
        snapshot = await next_event(sub)
        assert turns >= 1000 // SLICE // 2  # the loop ran other work between the slices
        assert snapshot["event"] == "snapshot"
        seq = snapshot["seq"]
        assert {k: snapshot[k] for k in ("bids", "asks")} == want  # as of the subscribe
        update = await next_event(sub)
        assert update["event"] == "update" and update["seq"] == seq + 1
        assert update["asks"] == [["150/1", "10"], ["200/1", "0"]] and update["bids"] == []
        # later changes reach it as to any subscriber
        book.add(bid(MAKERS[1], 10, 1100))
        hub.changed()
        update = await next_event(sub)
        assert update["seq"] == seq + 2 and update["bids"] == [
            ["110/1", "1100"]
        ]  # (a bid offers quote)
    finally:
        other.cancel()
        feed.stop()


@pytest.mark.asyncio
async def test_a_subscriber_that_leaves_or_asks_again_meanwhile_gets_one_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bookfeed, "SLICE_LEVELS", SLICE)
    book, _ = book_of(400, 400)
    hub = EventHub()
    feed = BookFeed(book, hub, tick=0.001)
    try:
        gone = hub.subscribe()
        feed.subscribe(gone, (BASE, QUOTE))
        feed.drop(gone)  # its socket closed while its snapshot was built
        again = hub.subscribe()
        feed.subscribe(again, (BASE, QUOTE))
        await asyncio.sleep(0)  # (a slice or two of the first built)
        feed.subscribe(again, (BASE, QUOTE))  # a resync before the first came
        snapshot = await next_event(again)
        assert snapshot["event"] == "snapshot" and len(snapshot["asks"]) == 400
        book.add(ask(MAKERS[0], 10, 1500))
        hub.changed()
        update = await next_event(again)  # the next event: no second snapshot between
        assert update["event"] == "update" and update["seq"] == snapshot["seq"] + 1
        assert gone.queue.empty()
        feed.drop(again)
        assert hub.watch is None  # nothing followed any more: the ticks stop
    finally:
        feed.stop()
