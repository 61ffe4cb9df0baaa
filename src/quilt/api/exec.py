"""Routes of the exec concern (quilt-api §3.2): synchronous exec, processes, signals."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import pybase64
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from quilt.api.auth import Caller, platform
from quilt.domain.output import render
from quilt.domain.records import rfc3339
from quilt.drivers.runtime.minit import Exited, Failed, MinitUnavailable, Output
from quilt.engine.exec import JOB_OUTPUT_KEPT
from quilt.engine.exec import Job as LegacyJob
from quilt.wire.exec import (
    ExecRequest,
    ExecResult,
    Job,
    JobList,
    ProcessInfo,
    ProcessList,
    Signalled,
    StreamRequest,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from quilt.domain.ids import TenantId
    from quilt.drivers.runtime.minit import Event
    from quilt.engine.platform import Platform

router = APIRouter(prefix="/api/containers", tags=["exec"])


@router.post("/{container_id}/exec", response_model=ExecResult, summary="Run a command")
async def run(request: Request, container_id: str, body: ExecRequest, caller: Caller) -> Response:
    """Run `command` (argv) to completion and return its output inline; non-zero exit is 200."""
    content = await execute(platform(request), caller.tenant_id, container_id, body)
    return Response(content, media_type="application/json")


async def execute(p: Platform, tenant_id: TenantId, container_id: str, body: ExecRequest) -> bytes:
    """Run one exec request; its `ExecResult` as JSON.

    Serialised here, once: the result is built from checked values, so FastAPI's second
    validation of a returned model would only cost time. Shared by the route and `ExecPath`.
    """
    job = await p.exec.run(
        tenant_id,
        container_id,
        body.command,
        workdir=body.workdir,
        timeout_ms=body.timeout_ms,
        environment=body.environment,
    )
    outcome = job.outcome
    limit = p.exec.output_limit
    result = ExecResult(
        container_id=job.container_id,
        exit_code=outcome.exit_code,
        stdout=render(outcome.stdout, truncated=outcome.stdout_truncated, limit=limit),
        stderr=render(outcome.stderr, truncated=outcome.stderr_truncated, limit=limit),
        execution_time_ms=round(outcome.duration_ms),
        timed_out=outcome.timed_out,
        stdout_truncated=outcome.stdout_truncated,
        stderr_truncated=outcome.stderr_truncated,
        job_id=job.job_id,
        status=job.status,
        status_url=f"/api/containers/{job.container_id}/jobs/{job.job_id}",
    )
    return ExecResult.__pydantic_serializer__.to_json(result)


def _job(job: LegacyJob, *, include_output: bool, limit: int) -> Job:
    outcome = job.outcome
    return Job(
        job_id=job.job_id,
        container_id=job.container_id,
        command=list(job.command),
        status=job.status,
        exit_code=outcome.exit_code,
        timed_out=outcome.timed_out,
        execution_time_ms=round(outcome.duration_ms),
        started_at=rfc3339(job.started_at) or "",
        completed_at=rfc3339(job.completed_at) or "",
        stdout=render(outcome.stdout, truncated=outcome.stdout_truncated, limit=limit)
        if include_output
        else None,
        stderr=render(outcome.stderr, truncated=outcome.stderr_truncated, limit=limit)
        if include_output
        else None,
    )


@router.get("/{container_id}/jobs", response_model=JobList, summary="Recent execs (legacy jobs)")
async def jobs(request: Request, container_id: str, caller: Caller) -> JobList:
    """The container's last execs as finished jobs, newest first, without their output.

    Exec is synchronous; this read-only view is kept for clients of the job era.
    """
    p = platform(request)
    container_id = p.containers.resolve(caller.tenant_id, container_id)
    found = p.exec.jobs(caller.tenant_id, container_id)
    return JobList(
        container_id=container_id,
        jobs=[_job(j, include_output=False, limit=JOB_OUTPUT_KEPT) for j in found],
    )


@router.get("/{container_id}/jobs/{job_id}", response_model=Job, summary="One exec (legacy job)")
async def job(
    request: Request, container_id: str, job_id: str, caller: Caller, include_output: bool = True
) -> Job:
    """A finished exec by its `job_id` (from the exec result), with its output (64 KiB kept)."""
    found = platform(request).exec.job(caller.tenant_id, container_id, job_id)
    return _job(found, include_output=include_output, limit=JOB_OUTPUT_KEPT)


@router.get("/{container_id}/processes", response_model=ProcessList, summary="List processes")
async def processes(request: Request, container_id: str, caller: Caller) -> ProcessList:
    """Processes inside the container, with the pids the container sees."""
    p = platform(request)
    container_id = p.containers.resolve(caller.tenant_id, container_id)
    found = p.exec.processes(caller.tenant_id, container_id)
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


def _line(frame: dict[str, Any]) -> bytes:
    return json.dumps(frame, separators=(",", ":")).encode() + b"\n"


_OUTPUT_HEADS = {
    stream: b'{"type":"' + stream.encode() + b'","data_b64":"' for stream in ("stdout", "stderr")
}


def _output_line(event: Output) -> bytes:
    """An output frame, built without a JSON encoder.

    Base64 text never needs escaping, and scanning 64 KiB of it for escapes was most of the
    cost of streaming; pybase64's SIMD encoder is some 50x faster than binascii's.
    """
    return _OUTPUT_HEADS[event.stream] + pybase64.b64encode(event.data) + b'"}\n'


async def _frames(
    container_id: str, pid: int, events: AsyncGenerator[Event, None], started: float
) -> AsyncIterator[bytes]:
    """NDJSON frames of a running command: started, stdout/stderr, [timeout,] exit or error."""

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        yield _line({"type": "started", "container_id": container_id, "pid": pid})
        async for event in events:
            if isinstance(event, Output):
                yield _output_line(event)
            elif isinstance(event, Exited):
                if event.timed_out:
                    yield _line(
                        {
                            "type": "timeout",
                            "elapsed_ms": elapsed(),
                            "message": "the command ran past timeout_ms; its process group "
                            "was killed",
                        }
                    )
                yield _line(
                    {
                        "type": "exit",
                        "code": event.exit_code,
                        "signal": event.term_signal or None,
                        "timed_out": event.timed_out,
                        "elapsed_ms": elapsed(),
                    }
                )
            elif isinstance(event, Failed):
                yield _line({"type": "error", "message": event.message})
    except MinitUnavailable as exc:
        yield _line({"type": "error", "message": str(exc)})
    finally:
        await events.aclose()  # a client that went away: minit kills the process group


@router.post(
    "/{container_id}/stream",
    summary="Run a command, streaming its output",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def stream(
    request: Request, container_id: str, body: StreamRequest, caller: Caller
) -> StreamingResponse:
    """Run `command` and stream NDJSON frames as output arrives (non-PTY).

    Frames: `started` {container_id, pid}, then `stdout`/`stderr` {data_b64}, then `exit`
    {code, elapsed_ms} (after `timeout` if timeout_ms passed), or `error` {message}. A client
    that disconnects gets its command killed.
    """
    started = time.perf_counter()
    p = platform(request)
    container_id = p.containers.resolve(caller.tenant_id, container_id)
    first, events = await p.exec.stream(
        caller.tenant_id,
        container_id,
        body.command,
        working_directory=body.working_directory,
        timeout_ms=body.timeout_ms,
        environment=body.environment,
    )
    return StreamingResponse(
        _frames(container_id, first.pid, events, started),
        media_type="application/x-ndjson",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
