"""The event loop a node serves on (``sdex.httpkit.loop_factory``): uvloop, a dependency,
unless ``SDEX_LOOP=asyncio``; a real node process answers on it."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from sdex.httpkit import LOOP_ENV, loop_factory


def test_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOOP_ENV, raising=False)
    factory = loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_ENV, "asyncio")
    assert loop_factory() is None
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        assert not isinstance(runner.get_loop(), uvloop.Loop)
