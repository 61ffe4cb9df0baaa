"""Routes of the cleanup concern (quilt-api §3.8): what deletes released, and forced cleanup."""

from __future__ import annotations

from fastapi import APIRouter, Request

from quilt.api import views
from quilt.api.auth import Caller, platform
from quilt.wire.cleanup import (
    CleanupStatus,
    CleanupTaskList,
    ForceCleanup,
    ForcedCleanup,
)

router = APIRouter(tags=["cleanup"])


@router.get("/api/cleanup/status", response_model=CleanupStatus, summary="Cleanup status")
async def status(request: Request, caller: Caller) -> CleanupStatus:
    """Your cleanup tasks per status, bytes freed, and when failed ones are retried."""
    return CleanupStatus(**platform(request).cleanup.status(caller.tenant_id))


@router.get("/api/cleanup/tasks", response_model=CleanupTaskList, summary="Cleanup tasks")
async def tasks(
    request: Request, caller: Caller, status: str | None = None, limit: int | None = 100
) -> CleanupTaskList:
    """Newest first: one task per resource each deleted container released (or failed to).

    `status` (pending, in_progress, completed, failed) and `limit` (1-1000) filter.
    """
    found = platform(request).cleanup.tasks(caller.tenant_id, status=status, limit=limit)
    return CleanupTaskList(tasks=[views.cleanup_task(t) for t in found], count=len(found))


@router.get(
    "/api/containers/{container_id}/cleanup/tasks",
    response_model=CleanupTaskList,
    summary="A container's cleanup tasks",
)
async def container_tasks(request: Request, container_id: str, caller: Caller) -> CleanupTaskList:
    """What deleting the container released; still answers after the container is gone."""
    p = platform(request)
    container_id = p.containers.id_for(caller.tenant_id, container_id)
    found = p.cleanup.tasks(caller.tenant_id, container_id=container_id)
    return CleanupTaskList(tasks=[views.cleanup_task(t) for t in found], count=len(found))


@router.post(
    "/api/containers/{container_id}/cleanup/force",
    response_model=ForcedCleanup,
    summary="Force cleanup of a stopped container",
)
async def force(
    request: Request, container_id: str, body: ForceCleanup, caller: Caller
) -> ForcedCleanup:
    """Release everything of a container that is not running, and forget it.

    Needs `confirm: true`; a running container is a 409. With `remove_volumes: true` the
    volumes it attached go too, unless another container still attaches them.
    """
    done = await platform(request).cleanup.force(
        caller.tenant_id,
        container_id,
        confirm=body.confirm,
        remove_volumes=body.remove_volumes,
    )
    return ForcedCleanup(**{**done, "tasks": [views.cleanup_task(t) for t in done["tasks"]]})
