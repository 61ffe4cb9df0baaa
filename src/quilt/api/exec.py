"""Routes of the exec concern (quilt-api §3.2): synchronous exec, processes, signals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from quilt.api.auth import Caller, platform
from quilt.domain.output import render
from quilt.wire.exec import ExecRequest, ExecResult, ProcessInfo, ProcessList, Signalled

router = APIRouter(prefix="/api/containers", tags=["exec"])


@router.post("/{container_id}/exec", response_model=ExecResult, summary="Run a command")
async def run(request: Request, container_id: str, body: ExecRequest, caller: Caller) -> ExecResult:
    """Run `command` (argv) to completion and return its output inline; non-zero exit is 200."""
    p = platform(request)
    outcome = await p.exec.run(
        caller.tenant_id,
        container_id,
        body.command,
        workdir=body.workdir,
        timeout_ms=body.timeout_ms,
        environment=body.environment,
    )
    limit = p.exec.output_limit
    return ExecResult(
        container_id=container_id,
        exit_code=outcome.exit_code,
        stdout=render(outcome.stdout, truncated=outcome.stdout_truncated, limit=limit),
        stderr=render(outcome.stderr, truncated=outcome.stderr_truncated, limit=limit),
        execution_time_ms=round(outcome.duration_ms),
        timed_out=outcome.timed_out,
        stdout_truncated=outcome.stdout_truncated,
        stderr_truncated=outcome.stderr_truncated,
    )


@router.get("/{container_id}/processes", response_model=ProcessList, summary="List processes")
async def processes(request: Request, container_id: str, caller: Caller) -> ProcessList:
    """Processes inside the container, with the pids the container sees."""
    found = platform(request).exec.processes(caller.tenant_id, container_id)
    return ProcessList(
        container_id=container_id,
        processes=[ProcessInfo(**p.__dict__) for p in found],
    )


@router.delete(
    "/{container_id}/processes/{pid}", response_model=Signalled, summary="Signal a process"
)
async def signal_process(
    request: Request,
    container_id: str,
    pid: int,
    caller: Caller,
    signal: Annotated[str, Query(description="TERM, KILL, INT, HUP, ... or a number")] = "TERM",
) -> Signalled:
    """Send a signal (default TERM) to one process by its in-container pid."""
    sent = await platform(request).exec.signal(caller.tenant_id, container_id, pid, signal)
    return Signalled(pid=pid, signal=sent.name)
