"""What counts as activity, and which activity a tenant is notified of (pure rules, no I/O).

Activity is derived from the changes the store writes: a container's state or name moving, an
operation finishing, a service being published or changing state. Only changes a person
would name are kept (`container.starting` is noise; `container.started` is not).
Notifications are the subset that asks for attention, each with a severity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from quilt.domain.states import TERMINAL_OPERATION, ContainerState, OperationStatus

if TYPE_CHECKING:
    from quilt.domain.records import ContainerRecord, OperationRecord

SEVERITIES: Final = ("info", "warning", "error")


@dataclass(frozen=True)
class Happening:
    """One entry of activity, before it is stored."""

    type: str
    resource_type: str
    resource_id: str
    message: str
    resource_name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """A notification, before it is stored."""

    type: str
    title: str
    message: str
    severity: str
    resource_type: str | None = None
    resource_id: str | None = None


# The container states worth an entry when a container moves into them, with the verb.
_ENTERED: Final = {
    ContainerState.RUNNING: "started",
    ContainerState.STOPPED: "stopped",
    ContainerState.EXITED: "exited",
    ContainerState.ERROR: "failed",
}


def container_happenings(
    before: tuple[ContainerState, str] | None, record: ContainerRecord, *, gone: bool
) -> list[Happening]:
    """Entries for a container row written: `before` is its (state, name) as last seen."""

    def entry(verb: str, message: str, **details: Any) -> Happening:
        return Happening(
            f"container.{verb}",
            "container",
            record.container_id,
            message,
            record.name,
            {"state": record.state.value, **details},
        )

    label = f"container {record.name}"
    if gone:
        return [entry("deleted", f"{label} was deleted")]
    if before is None:
        return [entry("created", f"{label} was created from image {record.image}")]
    found = []
    state, name = before
    if name != record.name:
        found.append(
            entry("renamed", f"container {name} was renamed to {record.name}", old_name=name)
        )
    verb = _ENTERED.get(record.state)
    if record.state is not state and verb is not None:
        if record.state is ContainerState.EXITED:
            message = f"{label} exited with code {record.exit_code}"
        elif record.state is ContainerState.ERROR:
            message = f"{label} failed: {record.error_message or 'no reason recorded'}"
        else:
            message = f"{label} {verb}"
        found.append(entry(verb, message, exit_code=record.exit_code))
    return found


def operation_happening(record: OperationRecord) -> Happening | None:
    """The entry for an operation that just finished (None while it is still going)."""
    if record.status not in TERMINAL_OPERATION:
        return None
    outcome = record.status.value
    message = f"operation {record.operation_type} {outcome.replace('_', ' ')}"
    if record.status is not OperationStatus.SUCCEEDED and record.error:
        message += f": {record.error.get('message', '')}".rstrip(": ")
    return Happening(
        f"operation.{outcome}",
        record.target_resource_type or "operation",
        record.target_resource_id or record.operation_id,
        message,
        details={"operation_id": record.operation_id, "operation_type": record.operation_type},
    )


def service_happening(
    service_id: str, name: str, change: str, detail: str | None = None
) -> Happening:
    """The entry for a published service being published, deleted or changing state."""
    text = {
        "published": f"service {name} was published",
        "deleted": f"service {name} was unpublished",
        "ready": f"service {name} is accepting connections",
        "target_unreachable": f"service {name} stopped accepting connections",
        "expired": f"service {name} expired",
    }.get(change, f"service {name} is {change}")
    return Happening(
        f"service.{change}",
        "service",
        service_id,
        f"{text} ({detail})" if detail else text,
        name,
    )


# Activity that asks for attention, and how loudly.
_NOTIFY: Final = {
    "container.failed": ("error", "Container failed"),
    "operation.failed": ("error", "Operation failed"),
    "operation.timed_out": ("error", "Operation timed out"),
    "operation.cancelled": ("warning", "Operation cancelled"),
    "operation.succeeded": ("info", "Operation finished"),
    "service.target_unreachable": ("warning", "Service unreachable"),
    "service.expired": ("info", "Service expired"),
    "cleanup.failed": ("error", "Cleanup failed"),
    "cleanup.forced": ("info", "Container cleaned up"),
}


def notice_for(happening: Happening) -> Notice | None:
    """The notification an entry of activity raises, if any."""
    kind = happening.type
    if kind == "container.exited":
        code = happening.details.get("exit_code")
        if code in (0, None):
            return None
        severity, title = "warning", "Container exited with an error"
    elif kind in _NOTIFY:
        severity, title = _NOTIFY[kind]
    else:
        return None
    return Notice(
        kind,
        title,
        happening.message,
        severity,
        happening.resource_type,
        happening.resource_id,
    )
