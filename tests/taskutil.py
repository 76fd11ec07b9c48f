"""The tasks a running loop starts meanwhile: a real task factory, the loop's own restored
after (the gossip and websocket tests count the tasks a path starts)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

Seen = Callable[[asyncio.Task[Any], Coroutine[Any, Any, Any]], None]


@contextmanager
def tasks_seen(seen: Seen) -> Iterator[None]:
    """``seen(task, coro)`` for each task the running loop starts meanwhile (the coroutine
    not yet run: its frame holds its arguments; the task's name is set once it returns)."""
    loop = asyncio.get_running_loop()
    before = loop.get_task_factory()

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kw: Any
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kw)
        seen(task, coro)
        return task

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    try:
        yield
    finally:
        loop.set_task_factory(before)


@contextmanager
def tasks_started() -> Iterator[list[asyncio.Task[Any]]]:
    """The tasks the running loop starts meanwhile."""
    tasks: list[asyncio.Task[Any]] = []
    with tasks_seen(lambda task, _: tasks.append(task)):
        yield tasks


@contextmanager
def coroutines_started() -> Iterator[list[str]]:
    """The qualified names of the coroutines the running loop starts as tasks meanwhile."""
    names: list[str] = []
    with tasks_seen(lambda _, coro: names.append(getattr(coro, "__qualname__", ""))):
        yield names
