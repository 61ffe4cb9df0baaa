"""Events: tenant-scoped lifecycle changes, for `GET /api/events` (server-sent events).

Every change is kept in one bounded ring, in order, each with an id `<boot>.<seq>`.
Subscribers never own a queue: they read the ring after the last id they sent, and wait to be
woken when it grows. So a slow client cannot make the server buffer without bound; one that
falls further behind than the ring holds is told so (a `gap` event) and carries on from the
oldest event kept. A client that reconnects with `Last-Event-ID` resumes the same way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from quilt.domain.records import rfc3339

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from quilt.domain.records import ContainerRecord, OperationRecord
    from quilt.store.store import Store

RING_SIZE: Final = 4096


@dataclass(frozen=True)
class Event:
    """One change, as the stream sends it."""

    seq: int
    tenant_id: str
    name: str
    data: dict[str, Any]
    container_id: str | None = None
    operation_id: str | None = None


@dataclass(frozen=True)
class Filters:
    """What one subscriber asked to see (None: everything of its tenant)."""

    container_id: str | None = None
    operation_id: str | None = None

    def match(self, event: Event) -> bool:
        """Whether the event passes these filters."""
        if self.container_id is not None and event.container_id != self.container_id:
            return False
        return self.operation_id is None or event.operation_id == self.operation_id


class Events:
    """The event ring and its wake-up; safe to publish to from any thread."""

    def __init__(self, *, ring_size: int = RING_SIZE) -> None:
        self.boot = str(int(time.time()))
        self._ring: deque[Event] = deque(maxlen=ring_size)
        self._seq = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._grew = asyncio.Event()
        # What was last published per container: writes that change nothing seen are skipped.
        self._seen: dict[str, tuple[Any, ...]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop subscribers wait on (set when the server starts)."""
        self._loop = loop

    def watch(self, store: Store) -> None:
        """Publish container and operation changes the store writes."""
        store.containers.watchers.append(self._container)
        store.operations.watchers.append(self.operation)

    # -- publishing ---------------------------------------------------------------------

    def publish(
        self,
        tenant_id: str,
        name: str,
        data: dict[str, Any],
        *,
        container_id: str | None = None,
        operation_id: str | None = None,
    ) -> Event:
        """Add one event and wake the subscribers."""
        with self._lock:
            self._seq += 1
            event = Event(self._seq, tenant_id, name, data, container_id, operation_id)
            self._ring.append(event)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)
        return event

    def _wake(self) -> None:
        self._grew.set()
        self._grew = asyncio.Event()

    def _container(self, record: ContainerRecord, gone: bool) -> None:
        container_id = record.container_id
        seen = (record.state, record.name, record.exit_code, gone)
        if self._seen.get(container_id) == seen:
            return
        if gone:
            self._seen.pop(container_id, None)
        else:
            self._seen[container_id] = seen
        self.publish(
            record.tenant_id,
            "container_update",
            {
                "container_id": record.container_id,
                "name": record.name,
                "state": "deleted" if gone else record.state.value,
                "exit_code": record.exit_code,
                "deleted": gone,
            },
            container_id=record.container_id,
        )

    def operation(self, record: OperationRecord) -> None:
        """Publish an operation's status (the shape older consumers read)."""
        self.publish(
            record.tenant_id,
            "operation_update",
            {
                "type": "OperationUpdate",
                "data": {
                    "operation_id": record.operation_id,
                    "operation_type": record.operation_type,
                    "status": record.status.value,
                    "progress_pct": record.progress_pct,
                    "target_resource_type": record.target_resource_type,
                    "target_resource_id": record.target_resource_id,
                    "updated_at": rfc3339(record.updated_at),
                },
            },
            container_id=record.target_resource_id
            if record.target_resource_type == "container"
            else None,
            operation_id=record.operation_id,
        )

    # -- subscribing --------------------------------------------------------------------

    def position(self, last_event_id: str | None) -> int:
        """The seq to resume after: the given id's, if it is from this boot; else now."""
        boot, _, seq = (last_event_id or "").partition(".")
        if boot == self.boot and seq.isdigit():
            return int(seq)
        return self._seq

    def after(self, seq: int) -> tuple[list[Event], bool]:
        """Events after `seq` still in the ring, and whether some were already dropped."""
        with self._lock:
            if not self._ring or seq >= self._ring[-1].seq:
                return [], False
            first = self._ring[0].seq
            start = max(seq + 1 - first, 0)
            return list(self._ring)[start:], seq + 1 < first

    async def follow(
        self, tenant_id: str, filters: Filters, seq: int, heartbeat: float
    ) -> AsyncIterator[tuple[str, Event | None]]:
        """Yield ("event", e), ("gap", None) or ("heartbeat", None), from after `seq`, forever."""
        while True:
            grew = self._grew
            events, missed = self.after(seq)
            if missed:
                yield "gap", None
            for event in events:
                seq = event.seq
                if event.tenant_id == tenant_id and filters.match(event):
                    yield "event", event
            if events:
                continue
            try:
                await asyncio.wait_for(grew.wait(), timeout=heartbeat)
            except TimeoutError:
                yield "heartbeat", None

    @property
    def last_id(self) -> str:
        """The id of the newest event (`<boot>.0` before the first)."""
        return f"{self.boot}.{self._seq}"

    def event_id(self, event: Event) -> str:
        """The id the stream gives an event (what `Last-Event-ID` sends back)."""
        return f"{self.boot}.{event.seq}"
