"""The owner of every background task: nothing runs without it, and shutdown reaps them all."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from quilt import logs

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

log = logs.get(__name__)


class Tasks:
    """A set of tasks that shutdown cancels and awaits."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run `coro` in the background under this owner."""
        if self.closed:
            coro.close()
            raise RuntimeError("the task owner is shut down")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task.failed", task=task.get_name(), error=repr(task.exception()))

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        """Cancel every task and wait until each has finished."""
        self.closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
