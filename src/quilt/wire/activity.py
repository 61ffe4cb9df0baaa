"""Activity shapes (quilt-api §3.8)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ActivityEntry(BaseModel):
    """One thing that happened to one of your resources."""

    activity_id: str
    type: str = Field(description="e.g. container.created, operation.failed, service.published")
    resource_type: str = Field(description="container, operation, service, volume, ...")
    resource_id: str
    resource_name: str | None
    message: str
    details: dict[str, Any]
    created_at: str


class ActivityList(BaseModel):
    """`GET /api/activity`: newest first."""

    activity: list[ActivityEntry]
    count: int
