"""Plain records of stored resources, shared by the store and the engine (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quilt.domain.ids import ContainerId, OperationId, SnapshotId, TenantId, VolumeId
    from quilt.domain.states import ContainerState, OperationStatus


def now() -> datetime:
    """The current time in UTC (the one clock records use)."""
    return datetime.now(UTC)


def rfc3339(moment: datetime | None) -> str | None:
    """Format a moment as the wire's RFC 3339 UTC string, e.g. `2026-04-17T10:00:00.123Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ContainerRecord:
    """A container as stored: its create spec and its current runtime facts."""

    container_id: ContainerId
    tenant_id: TenantId
    name: str
    image: str
    command: list[str] | None
    environment: dict[str, str]
    working_directory: str
    memory_limit_mb: int
    cpu_limit_percent: float
    strict: bool
    gpu_count: int
    gpu_ids: list[str]
    labels: dict[str, str]
    volumes: list[str]
    state: ContainerState
    created_at: datetime
    pid: int | None = None
    exit_code: int | None = None
    ip_address: str | None = None
    started_at: datetime | None = None
    exited_at: datetime | None = None
    stop_requested: bool = False
    error_message: str | None = None
    source_snapshot_id: str | None = None  # the snapshot this container was cloned from
    forked_from: str | None = None  # the container this one is a fork of
    routes: list[str] = field(default_factory=list)  # CIDRs routed via the gateway inside


@dataclass
class SnapshotRecord:
    """An immutable capture of a container's filesystem changes, and what to clone it into."""

    snapshot_id: SnapshotId
    tenant_id: TenantId
    source_container_id: str
    source_container_name: str | None
    parent_snapshot_id: str | None
    image: str
    config: dict[str, Any]  # the source's command, environment, working dir, limits, strict
    labels: dict[str, str]
    created_at: datetime
    consistency_mode: str
    network_mode: str
    volume_mode: str
    pinned: bool = False
    ttl_seconds: int | None = None
    size_bytes: int | None = None  # None until measured (after the operation ends)


@dataclass
class ServiceRecord:
    """A container port published through Linx."""

    service_id: str
    tenant_id: TenantId
    container_id: str
    name: str
    target_port: int
    protocol: str
    enable_websockets: bool
    auth_mode: str
    status: str
    created_at: datetime
    updated_at: datetime
    ttl_secs: int | None = None
    expires_at: datetime | None = None
    error_message: str | None = None


@dataclass
class VolumeRecord:
    """A named, tenant-scoped volume: data that outlives containers."""

    volume_id: VolumeId
    tenant_id: TenantId
    name: str
    driver: str
    labels: dict[str, str]
    size_limit_mb: int | None
    created_at: datetime
    updated_at: datetime


@dataclass
class PhaseRecord:
    """One timed step of an operation."""

    name: str
    started_at: datetime
    duration_ms: float


@dataclass
class OperationRecord:
    """An operation as stored."""

    operation_id: OperationId
    tenant_id: TenantId
    operation_type: str
    status: OperationStatus
    created_at: datetime
    updated_at: datetime
    target_resource_type: str | None = None
    target_resource_id: str | None = None
    message: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    phases: list[PhaseRecord] = field(default_factory=list)
    progress_pct: float = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass
class ApiKeyRecord:
    """An API key as stored: the hash of its secret, never the secret."""

    key_id: str
    tenant_id: TenantId
    name: str
    prefix: str
    secret_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass
class ActivityRecord:
    """One thing that happened to a tenant's resource (`container.started`, …)."""

    activity_id: str
    tenant_id: TenantId
    type: str
    resource_type: str
    resource_id: str
    message: str
    created_at: datetime
    resource_name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class NotificationRecord:
    """Something a tenant should be told about, read or not."""

    notification_id: str
    tenant_id: TenantId
    type: str
    title: str
    message: str
    severity: str
    created_at: datetime
    resource_type: str | None = None
    resource_id: str | None = None
    read: bool = False
    read_at: datetime | None = None


@dataclass
class CleanupTaskRecord:
    """One host resource of a container being released (`rootfs`, `network`, …)."""

    task_id: str
    tenant_id: TenantId
    container_id: str
    resource_type: str
    status: str
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    bytes_freed: int | None = None
    error_message: str | None = None
