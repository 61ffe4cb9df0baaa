"""`quilt ops`: follow the operations that 202 answers start."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from quilt.cli.common import (
    DEFAULT_WAIT,
    Session,
    detail,
    follow,
    json_option,
    option,
    pass_session,
    table,
)

if TYPE_CHECKING:
    from quilt.sdk import Operation

SHOWN = (
    "operation_id",
    "operation_type",
    "status",
    "progress_pct",
    "container_id",
    "snapshot_id",
    "result",
    "error",
    "reason_code",
    "reason_message",
    "created_at",
    "completed_at",
)


@click.group("ops")
def operations() -> None:
    """Show and wait for operations (start, snapshot, fork, clone, batch, archive...)."""


@operations.command()
@click.argument("operation_id")
@json_option
@pass_session
def get(session: Session, operation_id: str, *, as_json: bool) -> None:
    """Show OPERATION_ID: status, result or error, and how long each phase took."""
    found = session.client.operations.get(operation_id)
    session.show(as_json, lambda: _show(found))


@operations.command()
@click.argument("operation_id")
@option("--timeout", type=float, default=DEFAULT_WAIT, show_default=True, help="Seconds.")
@json_option
@pass_session
def wait(session: Session, operation_id: str, timeout: float, *, as_json: bool) -> None:
    """Wait for OPERATION_ID to end, with progress; exit 1 if it failed."""
    done = follow(session, operation_id, timeout=timeout, quiet=as_json)
    session.show(as_json, lambda: _show(done))


def _show(operation: Operation) -> None:
    detail(operation, SHOWN)
    if operation.phases:
        table(operation.phases, ("name", "duration_ms"), "")
