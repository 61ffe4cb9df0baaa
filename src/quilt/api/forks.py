"""Routes of the forks concern (quilt-api §3.6): writable branches of a live container.

Requires `X-Tenant-Id` equal to the caller's tenant (quilt-api §2.3).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from quilt.api import views
from quilt.api.auth import TenantCaller, platform
from quilt.api.snapshots import capture_options
from quilt.domain.snapshots import ResumePolicy
from quilt.wire.common import Receipt
from quilt.wire.snapshots import ForkRequest

router = APIRouter(tags=["forks"])


@router.post(
    "/api/containers/{container_id}/fork",
    status_code=202,
    response_model=Receipt,
    summary="Fork a container",
)
async def fork(request: Request, container_id: str, body: ForkRequest, caller: TenantCaller) -> Any:
    """`count` writable branches from one capture; the parent keeps running.

    Files and configuration are carried; process memory is not (the child's main command
    starts afresh). `result.container_id` (and `result.container_ids`) name the children.
    """
    op = platform(request).forks.submit(
        caller.tenant_id,
        container_id,
        capture_options(body),
        name=body.name,
        labels=body.labels,
        count=body.count,
        resume_policy=ResumePolicy(body.resume_policy),
    )
    return views.accepted(op)
