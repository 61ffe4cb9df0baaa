"""Notifications: what each tenant should be told about, read or not.

Most are raised by activity (a failed operation, a container that exited with an error, a
service whose app stopped answering); clients may add their own. Each new one is also sent
on the event stream as `notification_new`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quilt.domain.activity import SEVERITIES, Notice
from quilt.domain.ids import new_notification_id
from quilt.domain.records import NotificationRecord, now
from quilt.errors import BadRequest, NotFound

if TYPE_CHECKING:
    from quilt.domain.ids import TenantId
    from quilt.engine.events import Events
    from quilt.store.store import Store


class Notifications:
    """Adds, lists and marks notifications."""

    def __init__(self, store: Store, events: Events) -> None:
        self.store = store
        self.events = events

    def add(self, tenant_id: TenantId, notice: Notice) -> NotificationRecord:
        """Keep one notification and announce it."""
        record = NotificationRecord(
            notification_id=new_notification_id(),
            tenant_id=tenant_id,
            type=notice.type,
            title=notice.title,
            message=notice.message,
            severity=notice.severity,
            resource_type=notice.resource_type,
            resource_id=notice.resource_id,
            created_at=now(),
        )
        self.store.notifications.insert(record)
        self.events.publish(
            tenant_id,
            "notification_new",
            {
                "notification_id": record.notification_id,
                "type": record.type,
                "title": record.title,
                "message": record.message,
                "severity": record.severity,
            },
        )
        return record

    def create(
        self, tenant_id: TenantId, *, type_: str, title: str, message: str, severity: str
    ) -> NotificationRecord:
        """A client's own notification (type, title and message must not be empty)."""
        for field, value, most in (("type", type_, 64), ("title", title, 256)):
            if not value.strip() or len(value) > most:
                raise BadRequest(
                    f"{field} must be 1 to {most} characters", details={"field": field}
                )
        if not message.strip():
            raise BadRequest("message must not be empty", details={"field": "message"})
        if severity not in SEVERITIES:
            raise BadRequest(
                f"severity {severity!r} is not known",
                details={"expected": list(SEVERITIES), "received": severity},
            )
        return self.add(tenant_id, Notice(type_, title, message, severity))

    def list(
        self, tenant_id: TenantId, *, unread_only: bool, limit: int | None
    ) -> tuple[list[NotificationRecord], int]:
        """The tenant's notifications, newest first, and how many are unread."""
        if limit is not None and limit < 1:
            raise BadRequest("limit must be at least 1", details={"received": limit})
        found = self.store.notifications.list(tenant_id, unread_only=unread_only, limit=limit)
        return found, self.store.notifications.unread(tenant_id)

    def mark_read(self, tenant_id: TenantId, notification_id: str) -> NotificationRecord:
        """Mark one notification read (reading it again changes nothing)."""
        self.store.notifications.mark_read(tenant_id, notification_id)
        record = self.store.notifications.get(tenant_id, notification_id)
        if record is None:
            raise NotFound(f"notification {notification_id} does not exist")
        return record

    def mark_all_read(self, tenant_id: TenantId) -> int:
        """Mark every unread notification of the tenant read; say how many."""
        return self.store.notifications.mark_read(tenant_id, None)
