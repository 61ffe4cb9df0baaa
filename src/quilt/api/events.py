"""`GET /api/events`: the caller's lifecycle events as server-sent events (quilt-api §3.3)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from quilt.api.auth import Caller, platform
from quilt.engine.events import Filters

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from quilt.engine.events import Events

router = APIRouter(prefix="/api", tags=["events"])


def sse(name: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _stream(
    events: Events, tenant_id: str, filters: Filters, seq: int, heartbeat: float
) -> AsyncIterator[bytes]:
    yield sse("ready", {"tenant_id": tenant_id, "last_event_id": f"{events.boot}.{seq}"})
    async for kind, event in events.follow(tenant_id, filters, seq, heartbeat):
        if event is not None:
            yield sse(event.name, event.data, events.event_id(event))
        elif kind == "gap":
            yield sse("gap", {"message": "some events were dropped before they could be sent"})
        else:
            yield sse("heartbeat", {"ts": int(time.time() * 1000)})


@router.get(
    "/events",
    summary="Lifecycle events (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    caller: Caller,
    container_id: str | None = None,
    operation_id: str | None = None,
    last_event_id: str | None = None,
) -> StreamingResponse:
    """`ready` first, then `container_update` and `operation_update` events of your tenant.

    Filter with `?container_id=` or `?operation_id=`. A `heartbeat` comes when nothing else
    has for a while. Reconnect with the `Last-Event-ID` header (or `?last_event_id=`) to get
    what you missed, as far as the server still holds it (a `gap` event says when not).
    Authenticate by header, or with `?token=` where a client cannot set headers.
    """
    p = platform(request)
    if container_id is not None:
        container_id = p.containers.id_for(caller.tenant_id, container_id)
    resume = request.headers.get("last-event-id") or last_event_id
    seq = p.events.position(resume)
    return StreamingResponse(
        _stream(
            p.events,
            caller.tenant_id,
            Filters(container_id=container_id, operation_id=operation_id),
            seq,
            p.settings.events_heartbeat_seconds,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
