"""Turns engine records into wire models (the only place the two shapes meet)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quilt.domain.records import rfc3339
from quilt.wire.common import Receipt
from quilt.wire.containers import Checks, ContainerStatus, Readiness
from quilt.wire.operations import Operation, Phase

if TYPE_CHECKING:
    from quilt.domain.readiness import Readiness as DomainReadiness
    from quilt.domain.records import ContainerRecord, OperationRecord


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
        checks=checks(readiness),
    )


def ready(record: ContainerRecord, readiness: DomainReadiness) -> Readiness:
    """The `/ready` body."""
    return Readiness(
        container_id=record.container_id,
        state=record.state.value,
        exec_ready=readiness.exec_ready,
        network_ready=readiness.network_ready,
        checks=checks(readiness),
    )


def receipt(record: OperationRecord) -> Receipt:
    """The 202 receipt of an operation."""
    return Receipt(
        operation_id=record.operation_id,
        status_url=f"/api/operations/{record.operation_id}",
    )


def operation(record: OperationRecord) -> Operation:
    """The full operation record."""
    container_id = None
    if record.result and "container_id" in record.result:
        container_id = str(record.result["container_id"])
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
