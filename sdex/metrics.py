"""Prometheus helpers shared by the node's ``/metrics`` sources: a ``gauge`` for a value that
goes up and down (open now), a ``counter`` for a count since the node started.

A counter is exposed as Prometheus names it: ``# TYPE name counter`` and the sample
``name_total`` (prometheus_client's ``CounterMetricFamily`` adds the suffix), so that
``rate()`` and ``increase()`` read it as one (leftovers17: eight counts, such as
``sdex_matches_settled``, were gauges; README "Metrics" lists the renamed samples)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Gauge, Metric
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


def gauge(registry: CollectorRegistry, name: str, doc: str, value: Callable[[], float]) -> None:
    """A gauge on ``registry`` that reads ``value()`` when scraped (nothing to keep in step)."""
    Gauge(name, doc, registry=registry).set_function(value)


def counter(registry: CollectorRegistry, name: str, doc: str, value: Callable[[], float]) -> None:
    """A counter ``name`` (exposed as ``name_total``) on ``registry`` that reads ``value()``,
    a count that only grows while the process lives, when scraped."""
    registry.register(_Count(name, doc, value))


def counter_by(
    registry: CollectorRegistry,
    name: str,
    doc: str,
    label: str,
    values: Callable[[], dict[str, int]],
) -> None:
    """A counter ``name`` with one ``label`` on ``registry``: ``values()`` (label value ->
    count, a few fixed keys: bounded cardinality) read when scraped."""
    registry.register(_CountBy(name, doc, label, values))


class _CountBy(Collector):
    def __init__(
        self, name: str, doc: str, label: str, values: Callable[[], dict[str, int]]
    ) -> None:
        self.name, self.doc, self.label, self.values = name, doc, label, values

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.doc, labels=[self.label])
        for key, n in sorted(self.values().items()):
            family.add_metric([key], n)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.doc, labels=[self.label])


class _Count(Collector):
    def __init__(self, name: str, doc: str, value: Callable[[], float]) -> None:
        self.name, self.doc, self.value = name, doc, value

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.doc, value=self.value())

    def describe(self) -> Iterator[Metric]:
        """The family without reading the value (the registry checks names at register)."""
        yield CounterMetricFamily(self.name, self.doc)
