"""Routes of the notifications concern (quilt-api §3.8): list, add, mark read."""

from __future__ import annotations

from fastapi import APIRouter, Request

from quilt.api import views
from quilt.api.auth import Caller, platform
from quilt.wire.notifications import (
    CreateNotification,
    MarkedRead,
    Notification,
    NotificationList,
)

router = APIRouter(tags=["notifications"])


@router.get("/api/notifications", response_model=NotificationList, summary="Your notifications")
async def list_(
    request: Request, caller: Caller, unread_only: bool = False, limit: int | None = None
) -> NotificationList:
    """Newest first; `unread_only` and `limit` are optional.

    Failed operations and containers, services that stopped answering, finished work, and
    your own.
    """
    found, unread = platform(request).notifications.list(
        caller.tenant_id, unread_only=unread_only, limit=limit
    )
    return NotificationList(
        notifications=[views.notification(n) for n in found],
        count=len(found),
        unread_count=unread,
    )


@router.post(
    "/api/notifications",
    status_code=201,
    response_model=Notification,
    summary="Add a notification",
)
async def create(request: Request, body: CreateNotification, caller: Caller) -> Notification:
    """One of your own (severity info, warning or error); it is sent on the event stream too."""
    record = platform(request).notifications.create(
        caller.tenant_id,
        type_=body.type,
        title=body.title,
        message=body.message,
        severity=body.severity,
    )
    return views.notification(record)


@router.post("/api/notifications/mark-all-read", response_model=MarkedRead, summary="Mark all read")
async def mark_all_read(request: Request, caller: Caller) -> MarkedRead:
    """Every unread notification becomes read; says how many."""
    marked = platform(request).notifications.mark_all_read(caller.tenant_id)
    return MarkedRead(marked=marked, unread_count=0)


@router.put(
    "/api/notifications/{notification_id}/read",
    response_model=Notification,
    summary="Mark one read",
)
async def mark_read(request: Request, notification_id: str, caller: Caller) -> Notification:
    """The notification, now read (marking it again changes nothing)."""
    record = platform(request).notifications.mark_read(caller.tenant_id, notification_id)
    return views.notification(record)
