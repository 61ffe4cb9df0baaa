"""Which writes become activity, and which activity becomes a notification (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quilt.domain.activity import (
    container_happenings,
    notice_for,
    operation_happening,
    service_happening,
)
from quilt.domain.ids import ContainerId, OperationId, TenantId
from quilt.domain.records import ContainerRecord, OperationRecord
from quilt.domain.states import ContainerState, OperationStatus

S = ContainerState
MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


def container(**changes: Any) -> ContainerRecord:
    """A running container record named `web`."""
    values: dict[str, Any] = {
        "container_id": ContainerId("ctr_1"),
        "tenant_id": TenantId("ten_a"),
        "name": "web",
        "image": "prod",
        "command": None,
        "environment": {},
        "working_directory": "/",
        "memory_limit_mb": 512,
        "cpu_limit_percent": 100.0,
        "strict": False,
        "gpu_count": 0,
        "gpu_ids": [],
        "labels": {},
        "volumes": [],
        "state": S.RUNNING,
        "created_at": MOMENT,
    }
    values.update(changes)
    return ContainerRecord(**values)


def operation(status: OperationStatus, **changes: Any) -> OperationRecord:
    """A start operation of ctr_1."""
    return OperationRecord(
        operation_id=OperationId("op_1"),
        tenant_id=TenantId("ten_a"),
        operation_type="containers.start",
        status=status,
        created_at=MOMENT,
        updated_at=MOMENT,
        target_resource_type="container",
        target_resource_id="ctr_1",
        **changes,
    )


def test_first_sight_is_creation_and_deletion_is_final() -> None:
    """A row seen for the first time is `created`; a deleted row is `deleted`, whatever it held."""
    assert [h.type for h in container_happenings(None, container(), gone=False)] == [
        "container.created"
    ]
    assert [h.type for h in container_happenings((S.RUNNING, "web"), container(), gone=True)] == [
        "container.deleted"
    ]


def test_only_named_states_and_renames_count() -> None:
    """Moving to starting or rewriting the same state is silent; a rename and an exit are not."""
    assert container_happenings((S.STOPPED, "web"), container(state=S.STARTING), gone=False) == []
    assert container_happenings((S.RUNNING, "web"), container(), gone=False) == []
    both = container_happenings(
        (S.RUNNING, "old"), container(state=S.EXITED, exit_code=2), gone=False
    )
    assert [h.type for h in both] == ["container.renamed", "container.exited"]
    assert both[0].details["old_name"] == "old"
    assert both[1].message == "container web exited with code 2"


def test_operations_count_once_finished() -> None:
    """An operation is activity only in a terminal status, with its error's message."""
    assert operation_happening(operation(OperationStatus.RUNNING)) is None
    failed = operation_happening(
        operation(OperationStatus.FAILED, error={"message": "image missing"})
    )
    assert failed is not None
    assert failed.type == "operation.failed"
    assert failed.resource_id == "ctr_1"
    assert failed.message == "operation containers.start failed: image missing"


def test_notices_follow_severity_rules() -> None:
    """Failures are errors, a non-zero exit a warning, a clean exit or a start nothing."""
    exited = container_happenings(
        (S.RUNNING, "web"), container(state=S.EXITED, exit_code=0), gone=False
    )
    assert notice_for(exited[0]) is None
    bad = container_happenings(
        (S.RUNNING, "web"), container(state=S.EXITED, exit_code=1), gone=False
    )
    assert (notice := notice_for(bad[0])) is not None
    assert notice.severity == "warning"
    started = container_happenings((S.STOPPED, "web"), container(), gone=False)
    assert notice_for(started[0]) is None
    failed = operation_happening(operation(OperationStatus.FAILED))
    assert failed is not None
    assert (notice := notice_for(failed)) is not None
    assert notice.severity == "error"
    lost = notice_for(service_happening("lnx_1", "app", "target_unreachable"))
    assert lost is not None
    assert lost.severity == "warning"
    assert notice_for(service_happening("lnx_1", "app", "ready")) is None
