"""Routes of the activity concern (quilt-api §3.8): what happened to your resources."""

from __future__ import annotations

from fastapi import APIRouter, Request

from quilt.api import views
from quilt.api.auth import Caller, platform
from quilt.wire.activity import ActivityList

router = APIRouter(tags=["activity"])


@router.get("/api/activity", response_model=ActivityList, summary="Recent activity")
async def list_(request: Request, caller: Caller, limit: int | None = None) -> ActivityList:
    """Your tenant's newest entries first; `limit` (1-1000, default 50) is the only parameter.

    Entries: containers created, started, stopped, exited, renamed and deleted; operations
    finished; services published, changing state and ended; cleanups failed or forced.
    """
    entries = platform(request).activity.list(caller.tenant_id, limit)
    return ActivityList(activity=[views.activity_entry(e) for e in entries], count=len(entries))
