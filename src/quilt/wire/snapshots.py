"""Snapshot, clone and fork shapes (quilt-api §3.5, §3.6).

Modes are literal strings so an unknown value is a 422 at request validation, before any
operation exists; `tests/unit/test_snapshot_rules.py` checks they match the domain's enums.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from quilt.domain.snapshots import MAX_FORKS
from quilt.wire.common import Request

ConsistencyMode = Literal["crash-consistent", "app-consistent"]
NetworkMode = Literal["reset", "preserve_ns", "preserve_conn_best_effort"]
VolumeMode = Literal["exclude", "include_named", "include_all_allowed"]
ResumePolicy = Literal["immediate", "manual"]


class CaptureRequest(Request):
    """The modes shared by snapshot and fork requests."""

    consistency_mode: ConsistencyMode = "crash-consistent"
    network_mode: NetworkMode = "reset"
    volume_mode: VolumeMode = "exclude"


class SnapshotRequest(CaptureRequest):
    """`POST /api/containers/<id>/snapshot` body (`{}` is valid)."""

    ttl_seconds: int | None = Field(default=None, ge=1, description="expire after this long")
    labels: dict[str, str] = Field(default_factory=dict)


class CloneRequest(Request):
    """`POST /api/snapshots/<id>/clone` body."""

    name: str | None = None
    labels: dict[str, str] | None = None
    resume_policy: ResumePolicy = "immediate"


class ForkRequest(CaptureRequest):
    """`POST /api/containers/<id>/fork` body (all optional)."""

    name: str | None = None
    labels: dict[str, str] | None = None
    resume_policy: ResumePolicy = "immediate"
    count: int = Field(default=1, ge=1, le=MAX_FORKS, description="forks from one capture")


class IncludedVolume(BaseModel):
    """A volume whose files a snapshot holds, at the path it was mounted on."""

    name: str
    target: str


class Snapshot(BaseModel):
    """A snapshot as list, detail and lineage show it."""

    snapshot_id: str
    id: str
    source_container_id: str
    source_container_name: str | None
    container_id: str
    parent_snapshot_id: str | None
    image: str
    created_at: str
    expires_at: str | None
    labels: dict[str, str]
    pinned: bool
    ttl_seconds: int | None
    size_bytes: int | None = Field(description="bytes of changes; null while measuring")
    consistency_mode: str
    network_mode: str
    volume_mode: str
    volumes_included: list[IncludedVolume] = Field(
        default_factory=list, description="volumes whose data the snapshot holds"
    )


class SnapshotList(BaseModel):
    """`GET /api/snapshots`."""

    snapshots: list[Snapshot]


class LineageNode(BaseModel):
    """One snapshot in a lineage walk (depth 0 is the snapshot asked about)."""

    snapshot_id: str
    parent_snapshot_id: str | None
    container_id: str
    source_container_name: str | None
    created_at: str
    depth: int


class CloneNode(BaseModel):
    """A container cloned from the snapshot."""

    container_id: str
    name: str
    state: str


class Lineage(BaseModel):
    """`GET /api/snapshots/<id>/lineage`: ancestors, children, clones, and the base image."""

    snapshot_id: str
    image: str
    source_container_id: str
    source_container_name: str | None
    nodes: list[LineageNode]
    children: list[LineageNode]
    clones: list[CloneNode]


class Pinned(BaseModel):
    """`POST …/pin` and `…/unpin`."""

    success: bool = True
    message: str
    snapshot: Snapshot


class SnapshotDeleted(BaseModel):
    """`DELETE /api/snapshots/<id>`."""

    success: bool = True
    snapshot_id: str
    message: str = "snapshot deleted"
