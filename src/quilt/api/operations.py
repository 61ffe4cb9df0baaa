"""Routes of the operations concern (quilt-api §3.3)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from quilt.api import views
from quilt.api.auth import Caller, platform
from quilt.wire.operations import Operation

router = APIRouter(prefix="/api/operations", tags=["operations"])


@router.get("/{operation_id}", response_model=Operation, summary="Follow an operation")
async def get(request: Request, operation_id: str, caller: Caller) -> Operation:
    """Status, result or error, and the timing of each phase."""
    return views.operation(platform(request).operations.get(caller.tenant_id, operation_id))
