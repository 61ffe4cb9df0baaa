"""The tenant's and server's routes as pure `Call` builders: activity, notices, keys, system.

Also cleanup and concern guides. Same rules as `_calls`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quilt.sdk import _core as core
from quilt.sdk._account import (
    ActivityEntry,
    ApiKey,
    CleanupStatus,
    CleanupTask,
    ConcernExamples,
    ConcernHealth,
    ConcernHelp,
    CreatedApiKey,
    ForcedCleanup,
    Health,
    MarkedRead,
    Notification,
    NotificationList,
    SystemInfo,
)
from quilt.sdk._core import Call, container_path, segment
from quilt.sdk._models import Success

if TYPE_CHECKING:
    import builtins


class ActivityCalls:
    """`client.activity`."""

    @staticmethod
    def list(limit: int | None = None) -> Call[builtins.list[ActivityEntry]]:
        """`GET /api/activity[?limit=]`, newest first."""
        parse = core.many(ActivityEntry, "activity")
        return Call("GET", "/api/activity", parse, params={"limit": limit})


class NotificationCalls:
    """`client.notifications`."""

    @staticmethod
    def list(*, unread_only: bool = False, limit: int | None = None) -> Call[NotificationList]:
        """`GET /api/notifications[?unread_only=true][&limit=]`."""
        params = {"unread_only": "true" if unread_only else None, "limit": limit}
        return Call("GET", "/api/notifications", core.one(NotificationList), params=params)

    @staticmethod
    def create(
        type: str,  # noqa: A002 - the wire name
        title: str,
        message: str,
        severity: str = "info",
    ) -> Call[Notification]:
        """`POST /api/notifications`."""
        body = {"type": type, "title": title, "message": message, "severity": severity}
        return Call("POST", "/api/notifications", core.one(Notification), json=body)

    @staticmethod
    def mark_read(notification_id: str) -> Call[Notification]:
        """`PUT /api/notifications/<id>/read`."""
        path = f"/api/notifications/{segment(notification_id)}/read"
        return Call("PUT", path, core.one(Notification))

    @staticmethod
    def mark_all_read() -> Call[MarkedRead]:
        """`POST /api/notifications/mark-all-read`."""
        return Call("POST", "/api/notifications/mark-all-read", core.one(MarkedRead))


class CleanupCalls:
    """`client.cleanup`."""

    @staticmethod
    def status() -> Call[CleanupStatus]:
        """`GET /api/cleanup/status`."""
        return Call("GET", "/api/cleanup/status", core.one(CleanupStatus))

    @staticmethod
    def tasks(
        *, container_id: str | None = None, status: str | None = None, limit: int | None = None
    ) -> Call[builtins.list[CleanupTask]]:
        """`GET /api/cleanup/tasks`, or one container's (`…/containers/<id>/cleanup/tasks`)."""
        parse = core.many(CleanupTask, "tasks")
        if container_id is not None:
            return Call("GET", container_path(container_id, "cleanup", "tasks"), parse)
        params = {"status": status, "limit": limit}
        return Call("GET", "/api/cleanup/tasks", parse, params=params)

    @staticmethod
    def force(container_id: str, *, remove_volumes: bool = False) -> Call[ForcedCleanup]:
        """`POST …/cleanup/force` (calling it is the confirmation)."""
        path = container_path(container_id, "cleanup", "force")
        body = {"confirm": True, "remove_volumes": remove_volumes}
        return Call("POST", path, core.one(ForcedCleanup), json=body)


class ApiKeyCalls:
    """`client.api_keys`."""

    @staticmethod
    def list() -> Call[builtins.list[ApiKey]]:
        """`GET /api/api-keys`."""
        return Call("GET", "/api/api-keys", core.many(ApiKey, "api_keys"))

    @staticmethod
    def create(name: str) -> Call[CreatedApiKey]:
        """`POST /api/api-keys`: the secret is in this answer only."""
        return Call("POST", "/api/api-keys", core.one(CreatedApiKey), json={"name": name})

    @staticmethod
    def delete(key_id: str) -> Call[Success]:
        """`DELETE /api/api-keys/<id>`: revoke."""
        return Call("DELETE", f"/api/api-keys/{segment(key_id)}", core.one(Success))


class SystemCalls:
    """`client.system`."""

    @staticmethod
    def health() -> Call[Health]:
        """`GET /health` (no key needed)."""
        return Call("GET", "/health", core.one(Health))

    @staticmethod
    def info() -> Call[SystemInfo]:
        """`GET /api/system/info`."""
        return Call("GET", "/api/system/info", core.one(SystemInfo))


class GuideCalls:
    """`client.guides`: `/api/<concern>/help|examples|health`."""

    @staticmethod
    def help(concern: str) -> Call[ConcernHelp]:
        """`GET /api/<concern>/help`."""
        return Call("GET", f"/api/{segment(concern)}/help", core.one(ConcernHelp))

    @staticmethod
    def examples(concern: str) -> Call[ConcernExamples]:
        """`GET /api/<concern>/examples`."""
        return Call("GET", f"/api/{segment(concern)}/examples", core.one(ConcernExamples))

    @staticmethod
    def health(concern: str) -> Call[ConcernHealth]:
        """`GET /api/<concern>/health`."""
        return Call("GET", f"/api/{segment(concern)}/health", core.one(ConcernHealth))
