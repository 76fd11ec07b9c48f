"""The API application's typed state (``web.AppKey``s) and its Prometheus metrics.

Apart from ``sdex.node.api`` so that the routes split across modules (``sdex.node.wsapi``:
the websocket) read the same state without importing each other.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from sdex.httpkit import NetworkLimiter
from sdex.metrics import counter, counter_by, gauge
from sdex.node.bookfeed import BookFeed
from sdex.node.core import Node
from sdex.node.events import WsSlots

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """Prometheus metrics of one node (own registry: tests run many nodes in one process).

    The per-request figures (requests by route and status, latency, orders by outcome) are
    plain counters updated on the event loop and turned into metric families only when
    ``/metrics`` is scraped (``collect``): a labelled prometheus_client ``Counter.inc`` and
    ``Histogram.observe`` take a lock and walk the buckets on every request."""

    def __init__(self, node: Node) -> None:
        r = self.registry = CollectorRegistry()
        self.requests: dict[tuple[str, str], int] = {}
        """(route, status) -> requests answered."""
        self.latency: dict[str, list[float]] = {}
        """route -> a count per bucket of ``LATENCY_BUCKETS`` (and one for +Inf), then the
        sum of the seconds."""
        self.orders: dict[str, int] = {}
        """outcome -> orders submitted."""
        self.ws_connections = 0
        """Websocket connections open, subscribed or closing."""
        r.register(_Collector(self))
        gauge(r, "sdex_book_orders", "Orders in the book", lambda: len(node.book))
        gauge(r, "sdex_open_orders", "Open orders the node holds", lambda: node.open_orders)
        gauge(
            r,
            "sdex_block_checkpoint",
            "Last block the watcher processed and saved",
            lambda: node.watcher.block,
        )
        counter(
            r, "sdex_settlement_txs_sent", "Settlement transactions sent", lambda: node.settler.sent
        )
        counter(r, "sdex_matches_settled", "Matches settled on chain", lambda: node.settler.settled)
        counter(
            r, "sdex_matches_failed", "Matches that failed to settle", lambda: node.settler.failed
        )
        held = node.watcher.unapplied  # (signing held behind a block known, not applied)
        counter(
            r, "sdex_signing_holds", "Signings held behind unapplied blocks", lambda: held.holds
        )
        counter(
            r,
            "sdex_signing_held_seconds",
            "Seconds signings were held behind unapplied blocks",
            lambda: held.held_seconds,
        )
        counter(  # (read when scraped: the node's gossip is made after its app)
            r,
            "sdex_gossip_notices_refused",
            "Cancel and settlement notices peers refused for good (a signed 4xx)",
            lambda: _gossip_count(node, "notices_refused"),
        )
        counter(
            r,
            "sdex_gossip_notices_dropped",
            "Cancel and settlement notices not queued for a peer whose outbox was full",
            lambda: _gossip_count(node, "notices_dropped"),
        )
        counter_by(
            r,
            "sdex_gossip_notices_repeated",
            "Notices not queued for a peer: the same waited for it, or it answered it lately",
            "kind",
            lambda: {} if node.gossip is None else dict(node.gossip.core.notices_repeated_by),
        )
        counter(
            r,
            "sdex_store_gate_waits",
            "Store commits held back for a WAL checkpoint (a blocking one, or one overdue)",
            lambda: node.store.gate_waits()[0],  # (store95: a stuck checkpoint, unseen)
        )
        counter(
            r,
            "sdex_store_gate_wait_seconds",
            "Seconds store commits were held back for WAL checkpoints",
            lambda: node.store.gate_waits()[1],
        )
        counter(
            r,
            "sdex_store_checkpoint_gate_failures",
            "Store commits whose WAL checkpoint gate raised (each went on without it)",
            lambda: node.store.checkpoint_failures()[0],  # (review98b: counted, unseen)
        )
        counter(
            r,
            "sdex_store_checkpoint_wake_failures",
            "Store commits whose wake of the WAL checkpoint thread raised",
            lambda: node.store.checkpoint_failures()[1],
        )
        counter(
            r,
            "sdex_store_checkpoint_failures",
            "WAL checkpoints that failed on the checkpoint thread (the WAL grows meanwhile)",
            lambda: node.store.checkpoint_failures()[2],  # (store98: counted, unseen)
        )
        counter(
            r,
            "sdex_gossip_cancels_unasked",
            "Cancels a peer's fetch answer brought for orders not asked about (not taken)",
            lambda: _gossip_count(node, "cancels_unasked"),
        )
        for name, doc in FETCHED_CANCELS:  # (anti-entropy's cancels: sdex.gossip.fetchedcancels)
            counter(r, f"sdex_gossip_fetched_cancels_{name}", doc, _fetched_count(node, name))
        gauge(r, "sdex_ws_subscribers", "Websocket subscribers", lambda: len(node.events))
        gauge(r, "sdex_ws_connections", "Websocket connections open", lambda: self.ws_connections)

    def request_done(self, route: str, status: int, seconds: float) -> None:
        """Count a request and its latency."""
        key = (route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        counts = self.latency.get(route)
        if counts is None:
            counts = self.latency[route] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def order_submitted(self, result: str) -> None:
        self.orders[result] = self.orders.get(result, 0) + 1


FETCHED_CANCELS = (
    ("unstored", "Fetched cancels whose commit failed or was late (each try)"),
    ("retried", "Fetched cancels taken again after their commit failed"),
    ("unretried", "Fetched cancels whose commit failed, not taken again (too many watched)"),
)
"""``sdex_gossip_fetched_cancels_*``: ``FetchedCancels``' counts (``/health``'s
``fetchedCancels*``)."""


def _fetched_count(node: Node, name: str) -> Callable[[], int]:
    """A reader of the node's gossip's ``FetchedCancels`` count ``name`` (0 before its gossip
    is made)."""
    return lambda: 0 if node.gossip is None else int(getattr(node.gossip.fetched, name))


def _gossip_count(node: Node, name: str) -> int:
    """The node's gossip core's count ``name`` (0 before its gossip is made)."""
    return 0 if node.gossip is None else int(getattr(node.gossip.core, name))


class _Collector(Collector):
    """``Metrics``' plain counters as Prometheus families, read at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        requests = CounterMetricFamily(
            "sdex_http_requests", "HTTP requests by route and status", labels=["route", "status"]
        )
        for (route, status), n in sorted(m.requests.items()):
            requests.add_metric([route, status], n)
        yield requests
        latency = HistogramMetricFamily(
            "sdex_http_request_seconds", "HTTP request latency", labels=["route"]
        )
        for route, counts in sorted(m.latency.items()):
            cumulative: list[tuple[str, float]] = []
            total = 0.0
            for le, count in zip((*map(str, LATENCY_BUCKETS), "+Inf"), counts, strict=False):
                total += count
                cumulative.append((le, total))
            latency.add_metric([route], cumulative, sum_value=counts[-1])
        yield latency
        orders = CounterMetricFamily(
            "sdex_orders_submitted", "Orders submitted, by outcome", labels=["result"]
        )
        for result, n in sorted(m.orders.items()):
            orders.add_metric([result], n)
        yield orders


NODE_KEY = web.AppKey("node", Node)
METRICS_KEY = web.AppKey("metrics", Metrics)
LIMITER_KEY = web.AppKey("limiter", NetworkLimiter)


class FrontsState(Protocol):
    def health(self) -> dict[str, object]:
        """The counts ``/health`` shows as ``fronts``."""
        ...


FRONTS_KEY = web.AppKey("fronts", FrontsState)
"""The node's front processes (``sdex.node.fronts.Fronts``), if it runs any."""
WS_SLOTS_KEY = web.AppKey("ws_slots", WsSlots)


BOOK_FEED_KEY = web.AppKey("book_feed", BookFeed)
