"""Activity: what happened to each tenant's resources, kept in the database, newest first.

Entries come from the writes the store announces (container rows, operation rows) and from
the engines that change other resources (services). Each entry is also sent on the event
stream as `activity_new`, and the entries that ask for attention become notifications.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

from quilt import logs
from quilt.domain.activity import (
    Happening,
    container_happenings,
    notice_for,
    operation_happening,
)
from quilt.domain.ids import new_activity_id
from quilt.domain.records import ActivityRecord, now
from quilt.errors import BadRequest

if TYPE_CHECKING:
    from quilt.domain.ids import TenantId
    from quilt.domain.records import ContainerRecord, OperationRecord
    from quilt.domain.states import ContainerState
    from quilt.engine.events import Events
    from quilt.engine.notifications import Notifications
    from quilt.store.store import Store

log = logs.get(__name__)

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 1000


class Activity:
    """Records, lists and announces activity."""

    def __init__(self, store: Store, events: Events, notifications: Notifications) -> None:
        self.store = store
        self.events = events
        self.notifications = notifications
        self._lock = threading.Lock()
        # Each container's (state, name) as last seen: writes that move neither are skipped.
        self._seen: dict[str, tuple[ContainerState, str]] = {
            r.container_id: (r.state, r.name) for r in store.containers.list(None)
        }
        store.containers.watchers.append(self._container)
        store.operations.watchers.append(self._operation)

    def record(self, tenant_id: TenantId, happening: Happening) -> ActivityRecord:
        """Keep one entry, announce it, and notify when it asks for attention."""
        entry = ActivityRecord(
            activity_id=new_activity_id(),
            tenant_id=tenant_id,
            type=happening.type,
            resource_type=happening.resource_type,
            resource_id=happening.resource_id,
            resource_name=happening.resource_name,
            message=happening.message,
            details=happening.details,
            created_at=now(),
        )
        self.store.activity.insert(entry)
        self.events.publish(
            tenant_id,
            "activity_new",
            {
                "activity_id": entry.activity_id,
                "type": entry.type,
                "resource_type": entry.resource_type,
                "resource_id": entry.resource_id,
                "message": entry.message,
            },
            container_id=entry.resource_id if entry.resource_type == "container" else None,
        )
        notice = notice_for(happening)
        if notice is not None:
            self.notifications.add(tenant_id, notice)
        return entry

    def list(self, tenant_id: TenantId, limit: int | None) -> list[ActivityRecord]:
        """The tenant's newest entries (50 unless `limit` says, at most 1000)."""
        if limit is None:
            limit = DEFAULT_LIMIT
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(
                f"limit must be between 1 and {MAX_LIMIT}", details={"received": limit}
            )
        return self.store.activity.list(tenant_id, limit)

    # -- what the store announces --------------------------------------------------------

    def _container(self, record: ContainerRecord, gone: bool) -> None:
        with self._lock:
            before = self._seen.get(record.container_id)
            if gone:
                self._seen.pop(record.container_id, None)
            else:
                self._seen[record.container_id] = (record.state, record.name)
        for happening in container_happenings(before, record, gone=gone):
            self.record(record.tenant_id, happening)

    def _operation(self, record: OperationRecord) -> None:
        happening = operation_happening(record)
        if happening is not None:
            self.record(record.tenant_id, happening)
