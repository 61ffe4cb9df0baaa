"""Turns engine records into wire models (the only place the two shapes meet)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse

from quilt.domain import snapshots as snapshot_rules
from quilt.domain.linx import TOKEN_PARAM as LINX_TOKEN
from quilt.domain.records import rfc3339
from quilt.wire import snapshots as wire_snapshots
from quilt.wire import terminals as wire_terminals
from quilt.wire.activity import ActivityEntry
from quilt.wire.cleanup import CleanupTask
from quilt.wire.common import Receipt
from quilt.wire.containers import Checks, ContainerStatus, Deleted, Readiness
from quilt.wire.notifications import Notification
from quilt.wire.operations import Operation, Phase
from quilt.wire.services import Service
from quilt.wire.volumes import FileEntry, Volume

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from quilt.domain.readiness import Readiness as DomainReadiness
    from quilt.domain.records import (
        ActivityRecord,
        CleanupTaskRecord,
        ContainerRecord,
        NotificationRecord,
        OperationRecord,
        ServiceRecord,
        SnapshotRecord,
        VolumeRecord,
    )
    from quilt.drivers.storage.files import Entry
    from quilt.engine.snapshots import Lineage
    from quilt.engine.terminals import Session as LiveSession


def public_base(connection: HTTPConnection) -> str:
    """The server's public base URL, for the URLs it hands out.

    The base URL setting, else the backend domain, else what the request came in as
    (forwarded headers first).
    """
    settings = connection.app.state.platform.settings
    if settings.base_url:
        return str(settings.base_url).rstrip("/")
    if settings.backend_domain:
        return f"https://{settings.backend_domain}"
    headers = connection.headers
    proto = headers.get("x-forwarded-proto", "").split(",")[0].strip()
    host = headers.get("x-forwarded-host", "").split(",")[0].strip()
    scheme = proto or connection.url.scheme.replace("ws", "http")
    return f"{scheme}://{host or connection.url.netloc}"


def checks(readiness: DomainReadiness) -> Checks:
    """The wire checks block."""
    c = readiness.checks
    return Checks(
        state_running=c.state_running,
        minit_responsive=c.minit_responsive,
        network_configured=c.network_configured,
        managed_image_valid=c.managed_image_valid,
        gui_backend_reachable=c.gui_backend_reachable,
    )


def container(record: ContainerRecord, readiness: DomainReadiness) -> ContainerStatus:
    """The runtime status of a container (never its create spec)."""
    return ContainerStatus(
        container_id=record.container_id,
        tenant_id=record.tenant_id,
        name=record.name,
        state=record.state.value,
        pid=record.pid,
        exit_code=record.exit_code,
        ip_address=record.ip_address,
        created_at=rfc3339(record.created_at) or "",
        started_at=rfc3339(record.started_at),
        exited_at=rfc3339(record.exited_at),
        working_directory=record.working_directory,
        memory_limit_mb=record.memory_limit_mb,
        cpu_limit_percent=record.cpu_limit_percent,
        strict=record.strict,
        gpu_count=record.gpu_count,
        gpu_ids=record.gpu_ids,
        labels=record.labels,
        exec_ready=readiness.exec_ready,
        network_ready=readiness.network_ready,
        gui_ready=readiness.gui_ready,
        checks=checks(readiness),
    )


def ready(record: ContainerRecord, readiness: DomainReadiness) -> Readiness:
    """The `/ready` body."""
    return Readiness(
        container_id=record.container_id,
        state=record.state.value,
        exec_ready=readiness.exec_ready,
        network_ready=readiness.network_ready,
        gui_ready=readiness.gui_ready,
        checks=checks(readiness),
    )


def receipt(record: OperationRecord) -> Receipt:
    """The 202 receipt of an operation."""
    return Receipt(
        operation_id=record.operation_id,
        status_url=f"/api/operations/{record.operation_id}",
    )


def accepted(record: OperationRecord) -> JSONResponse:
    """The 202 answer of an operation-driven route."""
    return JSONResponse(receipt(record).model_dump(), status_code=202)


def operation(record: OperationRecord) -> Operation:
    """The full operation record."""
    result = record.result or {}
    container_id = None
    if "container_id" in result:
        container_id = str(result["container_id"])
    elif record.target_resource_type == "container":
        container_id = record.target_resource_id
    return Operation(
        operation_id=record.operation_id,
        operation_type=record.operation_type,
        status=record.status.value,
        message=record.message,
        target_resource_type=record.target_resource_type,
        target_resource_id=record.target_resource_id,
        container_id=container_id,
        snapshot_id=str(result["snapshot_id"]) if "snapshot_id" in result else None,
        result=record.result,
        error=record.error,
        reason_code=record.reason_code,
        reason_message=record.reason_message,
        items=record.items,
        warnings=record.warnings,
        phases=[
            Phase(name=p.name, started_at=rfc3339(p.started_at) or "", duration_ms=p.duration_ms)
            for p in record.phases
        ],
        progress_pct=record.progress_pct,
        created_at=rfc3339(record.created_at) or "",
        started_at=rfc3339(record.started_at),
        updated_at=rfc3339(record.updated_at) or "",
        completed_at=rfc3339(record.completed_at),
    )


def snapshot(record: SnapshotRecord) -> wire_snapshots.Snapshot:
    """A snapshot as every snapshot route shows it."""
    return wire_snapshots.Snapshot(
        snapshot_id=record.snapshot_id,
        id=record.snapshot_id,
        source_container_id=record.source_container_id,
        source_container_name=record.source_container_name,
        container_id=record.source_container_id,
        parent_snapshot_id=record.parent_snapshot_id,
        image=record.image,
        created_at=rfc3339(record.created_at) or "",
        expires_at=rfc3339(snapshot_rules.expires_at(record.created_at, record.ttl_seconds)),
        labels=record.labels,
        pinned=record.pinned,
        ttl_seconds=record.ttl_seconds,
        size_bytes=record.size_bytes,
        consistency_mode=record.consistency_mode,
        network_mode=record.network_mode,
        volume_mode=record.volume_mode,
        volumes_included=[
            wire_snapshots.IncludedVolume(**v) for v in record.config.get("volumes_included", [])
        ],
    )


def _lineage_node(record: SnapshotRecord, depth: int) -> wire_snapshots.LineageNode:
    return wire_snapshots.LineageNode(
        snapshot_id=record.snapshot_id,
        parent_snapshot_id=record.parent_snapshot_id,
        container_id=record.source_container_id,
        source_container_name=record.source_container_name,
        created_at=rfc3339(record.created_at) or "",
        depth=depth,
    )


def lineage(found: Lineage) -> wire_snapshots.Lineage:
    """The lineage body: ancestors nearest first, then snapshots and clones made from it."""
    me = found.chain[0][0]
    return wire_snapshots.Lineage(
        snapshot_id=me.snapshot_id,
        image=me.image,
        source_container_id=me.source_container_id,
        source_container_name=me.source_container_name,
        nodes=[_lineage_node(record, depth) for record, depth in found.chain],
        children=[_lineage_node(child, -1) for child in found.children],
        clones=[
            wire_snapshots.CloneNode(container_id=c.container_id, name=c.name, state=c.state.value)
            for c in found.clones
        ],
    )


def volume(record: VolumeRecord) -> Volume:
    """A volume as every volume route shows it."""
    return Volume(
        volume_id=record.volume_id,
        name=record.name,
        driver=record.driver,
        labels=record.labels,
        size_limit_mb=record.size_limit_mb,
        mount_point=f"/volumes/{record.volume_id}",
        status="active",
        created_at=rfc3339(record.created_at) or "",
        updated_at=rfc3339(record.updated_at) or "",
    )


def file_entry(entry: Entry) -> FileEntry:
    """A file, directory or link as the files routes show it."""
    return FileEntry(
        name=entry.name,
        path=entry.path,
        type=entry.type,
        is_dir=entry.type == "directory",
        size=entry.size,
        mode=f"{entry.mode:04o}",
        modified_at=entry.modified_at,
        link_target=entry.link_target,
    )


ATTACH_PATH = "/ws/terminal/attach"


def websocket_base(base: str) -> str:
    """A public base URL with its WebSocket scheme: http → ws, https → wss."""
    scheme = "wss" if base.startswith("https:") else "ws"
    return f"{scheme}:{base.split(':', 1)[1]}"


def attach_url(connection: HTTPConnection, session_id: str) -> str:
    """Where a client attaches to the session (ws:// or wss://, from the public base URL)."""
    return f"{websocket_base(public_base(connection))}{ATTACH_PATH}?session_id={session_id}"


def terminal_session(connection: HTTPConnection, s: LiveSession) -> wire_terminals.Session:
    """A terminal session as every terminal route shows it."""
    return wire_terminals.Session(
        session_id=s.session_id,
        container_id=s.container_id,
        target=s.target,
        state=s.state.value,
        shell=s.shell,
        cols=s.cols,
        rows=s.rows,
        pid=s.pid,
        attach_url=attach_url(connection, s.session_id),
        created_at=rfc3339(s.created_at) or "",
        expires_at=rfc3339(s.expires_at) or "",
        idle_timeout_seconds=s.idle_timeout,
        attached_clients=len(s.clients),
        exit_code=s.exit_code,
        exit_signal=s.exit_signal,
    )


def service(record: ServiceRecord, base: str, token: str) -> Service:
    """A published service with its URLs (signed in service_token mode)."""
    path = f"/linx/{record.service_id}/"
    query = f"?{LINX_TOKEN}={token}" if record.auth_mode == "service_token" else ""
    return Service(
        service_id=record.service_id,
        container_id=record.container_id,
        name=record.name,
        target_port=record.target_port,
        protocol=record.protocol,
        enable_websockets=record.enable_websockets,
        auth_mode=record.auth_mode,
        public_url=base + path + query,
        websocket_url=websocket_base(base) + path + query if record.enable_websockets else None,
        status=record.status,
        ttl_secs=record.ttl_secs,
        created_at=int(record.created_at.timestamp()),
        updated_at=int(record.updated_at.timestamp()),
        expires_at=int(record.expires_at.timestamp()) if record.expires_at else None,
    )


def deleted(container_id: str, tasks: list[CleanupTaskRecord]) -> Deleted:
    """A delete's answer: what could not be released yet is named."""
    pending = [t.resource_type for t in tasks if t.status != "completed"]
    if not pending:
        return Deleted(container_id=container_id)
    return Deleted(
        container_id=container_id,
        message="Container removed; some resources are released in the background",
        cleanup_pending=pending,
    )


def activity_entry(record: ActivityRecord) -> ActivityEntry:
    """One entry of activity."""
    return ActivityEntry(
        activity_id=record.activity_id,
        type=record.type,
        resource_type=record.resource_type,
        resource_id=record.resource_id,
        resource_name=record.resource_name,
        message=record.message,
        details=record.details,
        created_at=rfc3339(record.created_at) or "",
    )


def notification(record: NotificationRecord) -> Notification:
    """One notification."""
    return Notification(
        notification_id=record.notification_id,
        type=record.type,
        title=record.title,
        message=record.message,
        severity=record.severity,
        resource_type=record.resource_type,
        resource_id=record.resource_id,
        read=record.read,
        created_at=rfc3339(record.created_at) or "",
        read_at=rfc3339(record.read_at),
    )


def cleanup_task(record: CleanupTaskRecord) -> CleanupTask:
    """One cleanup task."""
    return CleanupTask(
        task_id=record.task_id,
        container_id=record.container_id,
        resource_type=record.resource_type,
        status=record.status,
        attempts=record.attempts,
        bytes_freed=record.bytes_freed,
        error_message=record.error_message,
        created_at=rfc3339(record.created_at) or "",
        updated_at=rfc3339(record.updated_at) or "",
    )
