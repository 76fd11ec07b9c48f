"""Numeric options with bounds, refused in our words: click's ranges said "2.0 is not in the
range 0.0<=x<=0.9" and "'x' is not a valid float range" (user31); these say what the option
takes and what was typed ("must be a number from 0 to 0.9 (a share of the nodes), got '2'")."""

from __future__ import annotations

import math
from typing import Any

import click


def shown(x: float) -> str:
    """A bound as a person writes it: ``0.9``, ``100000`` (not ``1e+05`` or ``100000.0``)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x) if isinstance(x, float) else str(x)


class _Words:
    """The refusal of a value outside ``[min, max]`` or not a number at all."""

    min: Any
    max: Any
    min_open: bool
    what: str
    note: str

    def bounds(self) -> str:
        """``from 0 to 0.9``, ``of at least 1``, ``above 0 and at most 86400``."""
        lo, hi = shown(self.min), shown(self.max) if self.max is not None else None
        if self.min_open:
            return f"above {lo}" + (f" and at most {hi}" if hi is not None else "")
        return f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"

    def said(self, value: object) -> str:
        typed = value if isinstance(value, str) else shown(value)  # type: ignore[arg-type]
        note = f" ({self.note})" if self.note else ""
        return f"must be {self.what} {self.bounds()}{note}, got {typed!r}"

    def _describe_range(self) -> str:  # (the help's "[...]": click's is "0.0<=x<=0.9")
        return self.bounds().removeprefix("from ").removeprefix("of ")


class IntBetween(_Words, click.IntRange):
    """A whole number from ``lo`` to ``hi`` (both included; no ``hi``: no upper bound)."""

    def __init__(self, lo: int, hi: int | None = None, note: str = "") -> None:
        super().__init__(lo, hi)
        self.what, self.note = "a whole number", note

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(self.said(value), param, ctx)


class FloatBetween(_Words, click.FloatRange):
    """A finite number from ``lo`` (above it: ``min_open``) to ``hi`` (included; no ``hi``:
    no upper bound)."""

    def __init__(
        self, lo: float, hi: float | None = None, note: str = "", min_open: bool = False
    ) -> None:
        super().__init__(lo, hi, min_open=min_open)
        self.what, self.note = "a number", note

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            got = super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(self.said(value), param, ctx)
        if not math.isfinite(got):  # (nan passes click's bounds: every comparison is false)
            self.fail(self.said(value), param, ctx)
        return got
