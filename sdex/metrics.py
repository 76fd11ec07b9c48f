"""Prometheus helpers shared by the node's ``/metrics`` sources."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge


def gauge(registry: CollectorRegistry, name: str, doc: str, value: Callable[[], float]) -> None:
    """A gauge on ``registry`` that reads ``value()`` when scraped (nothing to keep in step)."""
    Gauge(name, doc, registry=registry).set_function(value)
