"""Cleanup shapes (quilt-api §3.8)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from quilt.wire.common import Request


class CleanupTask(BaseModel):
    """One host resource of a container, released or still to release."""

    task_id: str
    container_id: str
    resource_type: str = Field(description="container, network, mounts, rootfs or logs")
    status: str = Field(description="pending, in_progress, completed or failed")
    attempts: int
    bytes_freed: int | None
    error_message: str | None
    created_at: str
    updated_at: str


class CleanupTaskList(BaseModel):
    """`GET /api/cleanup/tasks` and `GET /api/containers/<id>/cleanup/tasks`: newest first."""

    tasks: list[CleanupTask]
    count: int


class CleanupStatus(BaseModel):
    """`GET /api/cleanup/status`: your tasks per status, and the retrier."""

    pending: int
    in_progress: int
    completed: int
    failed: int
    total: int
    bytes_freed: int
    healthy: bool = Field(description="true when no task is failed")
    retry_interval_seconds: float
    max_attempts: int
    last_retry_at: str | None


class ForceCleanup(Request):
    """`POST /api/containers/<id>/cleanup/force` body."""

    confirm: bool = Field(default=False, description="must be true")
    remove_volumes: bool = Field(
        default=False, description="also delete the volumes it attached that nothing else does"
    )


class ForcedCleanup(BaseModel):
    """What a forced cleanup released."""

    success: bool = True
    container_id: str
    tasks: list[CleanupTask]
    bytes_freed: int
    volumes_removed: list[str]
    volumes_kept: list[str] = Field(description="attached volumes another container still uses")
