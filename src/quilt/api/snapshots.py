"""Routes of the snapshots concern (quilt-api §3.5): snapshot, list, lineage, pin, delete, clone.

Every route here requires `X-Tenant-Id` equal to the caller's tenant (quilt-api §2.3).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from quilt.api import views
from quilt.api.auth import TenantCaller, platform
from quilt.domain.snapshots import ConsistencyMode, NetworkMode, ResumePolicy, VolumeMode
from quilt.engine.snapshots import CaptureOptions
from quilt.wire.common import Receipt
from quilt.wire.snapshots import (
    CaptureRequest,
    CloneRequest,
    Lineage,
    Pinned,
    Snapshot,
    SnapshotDeleted,
    SnapshotList,
    SnapshotRequest,
)

router = APIRouter(tags=["snapshots"])

RECEIPT_WAIT_SECONDS: Final = 2.0


def capture_options(body: CaptureRequest) -> CaptureOptions:
    """The validated modes of a snapshot or fork body."""
    return CaptureOptions(
        consistency_mode=ConsistencyMode(body.consistency_mode),
        network_mode=NetworkMode(body.network_mode),
        volume_mode=VolumeMode(body.volume_mode),
    )


@router.post(
    "/api/containers/{container_id}/snapshot",
    status_code=202,
    response_model=Receipt,
    summary="Snapshot a container",
)
async def take(
    request: Request, container_id: str, body: SnapshotRequest, caller: TenantCaller
) -> Any:
    """Capture the container's filesystem changes; it keeps running (paused only to capture)."""
    p = platform(request)
    op = p.snapshots.submit(
        caller.tenant_id,
        container_id,
        capture_options(body),
        labels=body.labels,
        ttl_seconds=body.ttl_seconds,
    )
    # A capture takes milliseconds: wait a little so the receipt can name the snapshot too
    # (clients read snapshot_id straight from it); past the wait, it is a plain receipt.
    op = await p.operations.settle(op, RECEIPT_WAIT_SECONDS)
    snapshot_id = (op.result or {}).get("snapshot_id")
    if snapshot_id is None:
        return views.accepted(op)
    found = p.snapshots.get(caller.tenant_id, snapshot_id)
    body_out = {**views.snapshot(found).model_dump(), **views.receipt(op).model_dump()}
    return JSONResponse({**body_out, "status": op.status.value}, status_code=202)


@router.get("/api/snapshots", response_model=SnapshotList, summary="List snapshots")
async def list_snapshots(
    request: Request,
    caller: TenantCaller,
    container_id: str | None = None,
    label: Annotated[list[str], Query(description="repeatable key=value filter")] = [],  # noqa: B006
) -> SnapshotList:
    """The caller's snapshots, optionally of one container and carrying every given label."""
    found = platform(request).snapshots.search(
        caller.tenant_id, container_id=container_id, labels=label
    )
    return SnapshotList(snapshots=[views.snapshot(s) for s in found])


@router.get("/api/snapshots/{snapshot_id}", response_model=Snapshot, summary="Snapshot detail")
async def detail(request: Request, snapshot_id: str, caller: TenantCaller) -> Snapshot:
    """One snapshot."""
    return views.snapshot(platform(request).snapshots.get(caller.tenant_id, snapshot_id))


@router.get(
    "/api/snapshots/{snapshot_id}/lineage", response_model=Lineage, summary="Snapshot lineage"
)
async def lineage(request: Request, snapshot_id: str, caller: TenantCaller) -> Lineage:
    """Ancestors (`nodes`, depth 0 first), snapshots taken on top of it, and its clones."""
    return views.lineage(platform(request).snapshots.lineage(caller.tenant_id, snapshot_id))


@router.post("/api/snapshots/{snapshot_id}/pin", response_model=Pinned, summary="Pin")
async def pin(request: Request, snapshot_id: str, caller: TenantCaller) -> Pinned:
    """Keep the snapshot past its TTL and refuse deletes until it is unpinned."""
    record = platform(request).snapshots.pin(caller.tenant_id, snapshot_id, pinned=True)
    return Pinned(message="snapshot pinned", snapshot=views.snapshot(record))


@router.post("/api/snapshots/{snapshot_id}/unpin", response_model=Pinned, summary="Unpin")
async def unpin(request: Request, snapshot_id: str, caller: TenantCaller) -> Pinned:
    """Let the snapshot expire and be deleted again."""
    record = platform(request).snapshots.pin(caller.tenant_id, snapshot_id, pinned=False)
    return Pinned(message="snapshot unpinned", snapshot=views.snapshot(record))


@router.delete(
    "/api/snapshots/{snapshot_id}", response_model=SnapshotDeleted, summary="Delete a snapshot"
)
async def delete(request: Request, snapshot_id: str, caller: TenantCaller) -> SnapshotDeleted:
    """Delete it (409 SNAPSHOT_PINNED while pinned, SNAPSHOT_IN_USE while clones exist)."""
    platform(request).snapshots.delete(caller.tenant_id, snapshot_id)
    return SnapshotDeleted(snapshot_id=snapshot_id)


@router.post(
    "/api/snapshots/{snapshot_id}/clone",
    status_code=202,
    response_model=Receipt,
    summary="Clone a snapshot into a new container",
)
async def clone(
    request: Request, snapshot_id: str, body: CloneRequest, caller: TenantCaller
) -> Any:
    """A new container whose filesystem is the snapshot's; `result.container_id` names it."""
    op = platform(request).snapshots.submit_clone(
        caller.tenant_id,
        snapshot_id,
        name=body.name,
        labels=body.labels,
        resume_policy=ResumePolicy(body.resume_policy),
    )
    return views.accepted(op)
