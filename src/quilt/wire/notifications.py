"""Notification shapes (quilt-api §3.8)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from quilt.wire.common import Request


class CreateNotification(Request):
    """`POST /api/notifications` body."""

    type: str
    title: str
    message: str
    severity: str = Field(default="info", description="info, warning or error")


class Notification(BaseModel):
    """Something you should know about."""

    notification_id: str
    type: str
    title: str
    message: str
    severity: str
    resource_type: str | None
    resource_id: str | None
    read: bool
    created_at: str
    read_at: str | None


class NotificationList(BaseModel):
    """`GET /api/notifications`: newest first."""

    notifications: list[Notification]
    count: int
    unread_count: int


class MarkedRead(BaseModel):
    """`POST /api/notifications/mark-all-read`."""

    success: bool = True
    marked: int = Field(description="how many were unread until now")
    unread_count: int
