"""The operation record (quilt-api §2.8)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Phase(BaseModel):
    """One step of an operation and how long it took."""

    name: str
    started_at: str
    duration_ms: float


class Operation(BaseModel):
    """`GET /api/operations/<id>`."""

    operation_id: str
    operation_type: str
    status: str
    message: str | None = None
    target_resource_type: str | None = None
    target_resource_id: str | None = None
    container_id: str | None = None
    snapshot_id: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list)
    progress_pct: float = 0
    created_at: str
    started_at: str | None = None
    updated_at: str
    completed_at: str | None = None
